"""The tutorial's Net with weights exported by `adam-trainer export`, classifying images two ways.

usage: torch_predict.py WEIGHTS.safetensors FILES.json PIXELS.u8 OUT.json

FILES.json lists image files; PIXELS.u8 holds the same images as adam-trainer decoded them (N x 3 x 32 x 32 uint8).
OUT.json gets {"pil": [[10 probabilities], ...], "same": [[...], ...]}: "pil" from PIL's own decoding and resizing
(Image.open(f).convert('RGB') then transforms.Resize((32, 32)), which for a PIL image is Image.resize((32, 32),
Image.BILINEAR); torchvision itself is not needed for that), "same" from adam-trainer's pixels. Both normalised as the
tutorial does: ToTensor() then Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)).
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


class Net(nn.Module):  # the PyTorch CIFAR-10 tutorial's network
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def load_safetensors(path):  # the format's own 10 lines: header length, JSON header, raw little-endian data
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t
        start, end = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(body[start:end], dtype="<f4").copy()).reshape(t["shape"])
    return out


def normalise(u8):  # ToTensor() then Normalize(0.5, 0.5): x / 255, then (x - 0.5) / 0.5
    x = torch.from_numpy(u8.astype(np.float32)) / 255.0
    return (x - 0.5) / 0.5


def main():
    weights, files_json, pixels_path, out_path = sys.argv[1:5]
    net = Net()
    net.load_state_dict(load_safetensors(weights))
    net.eval()
    files = json.load(open(files_json))
    pil = np.stack([np.asarray(Image.open(f).convert("RGB").resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1) for f in files])
    same = np.fromfile(pixels_path, dtype=np.uint8).reshape(len(files), 3, 32, 32)
    with torch.no_grad():
        result = {k: F.softmax(net(normalise(v)), dim=1).tolist() for k, v in (("pil", pil), ("same", same))}
    json.dump(result, open(out_path, "w"))


main()
