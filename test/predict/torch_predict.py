"""The tutorial's Net with weights exported by `adam-trainer export`, classifying images two ways.

usage: torch_predict.py WEIGHTS.safetensors FILES.json PIXELS.u8 OUT.json

FILES.json lists image files; PIXELS.u8 holds the same images as adam-trainer decoded them (N x 3 x 32 x 32 uint8).
OUT.json gets {"pil": [[10 probabilities], ...], "same": [[...], ...]}: "pil" from PIL's own decoding and resizing
(Image.open(f).convert('RGB') then transforms.Resize((32, 32)), which for a PIL image is Image.resize((32, 32),
Image.BILINEAR); torchvision itself is not needed for that), "same" from adam-trainer's pixels. Both normalised as the
tutorial does: ToTensor() then Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# The network and the safetensors reader of the script `adam-trainer export` ships (sidecar/pytorch/train.py): the
# code a user runs, not a copy of it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sidecar", "pytorch"))
from train import Net, read_safetensors  # noqa: E402


def normalise(u8):  # ToTensor() then Normalize(0.5, 0.5): x / 255, then (x - 0.5) / 0.5
    x = torch.from_numpy(u8.astype(np.float32)) / 255.0
    return (x - 0.5) / 0.5


def main():
    weights, files_json, pixels_path, out_path = sys.argv[1:5]
    net = Net()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in read_safetensors(weights).items()})
    net.eval()
    files = json.load(open(files_json))
    pil = np.stack([np.asarray(Image.open(f).convert("RGB").resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1) for f in files])
    same = np.fromfile(pixels_path, dtype=np.uint8).reshape(len(files), 3, 32, 32)
    with torch.no_grad():
        result = {k: F.softmax(net(normalise(v)), dim=1).tolist() for k, v in (("pil", pil), ("same", same))}
    json.dump(result, open(out_path, "w"))


main()
