"""PyTorch reference vectors for the property test (test/reference/property.test.ts) and for check-reference.

The layout is ../shared/reference's (README.md there), written with the same RNG calls in the same order, so the
same seed gives the same initial weights, batches and numbers as the shared make_reference.py. One key is added:
`training.teacher_forced`, PyTorch's own state before a few steps of the run (parameters, the optimizer's
buffers, the step's loss and the parameters after it), so an engine can be checked one step at a time from
PyTorch's exact state instead of only at the end of a trajectory that both have been free to drift apart on
(a near-zero gradient whose rounding differs moves Adam by a sizeable fraction of lr; see check-reference).
Float32 arrays are stored as base64 little-endian bytes: exact, and a tenth of the size of JSON numbers.

  /usr/bin/python3 make_reference.py --configs CONFIGS.json --out-dir DIR
CONFIGS.json is a list of {"file", "seed", "optimizer", "learningRate", "beta1", "beta2", "epsilon",
"weightDecay", "momentum", "nesterov", "alpha", "batchSize", "steps"}; one file is written per entry. Optimizers: adam,
adamw, amsgrad (torch.optim.Adam / AdamW), sgd (momentum, nesterov), rmsprop (alpha, epsilon, momentum; centered=False).
"""
import argparse, base64, json, os
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(1)


class Net(nn.Module):
    def __init__(s):
        super().__init__(); s.conv1 = nn.Conv2d(3, 6, 5); s.pool = nn.MaxPool2d(2, 2); s.conv2 = nn.Conv2d(6, 16, 5)
        s.fc1 = nn.Linear(400, 120); s.fc2 = nn.Linear(120, 84); s.fc3 = nn.Linear(84, 10)

    def forward(s, x):
        x = s.pool(F.relu(s.conv1(x))); x = s.pool(F.relu(s.conv2(x))); x = torch.flatten(x, 1)
        return s.fc3(F.relu(s.fc2(F.relu(s.fc1(x)))))


def flat(t): return [float(v) for v in t.detach().reshape(-1).tolist()]
def b64(tensors): return base64.b64encode(np.concatenate([t.detach().reshape(-1).numpy().astype('<f4') for t in tensors]).tobytes()).decode()


def make_opt(c, params):
    name, lr, wd = c["optimizer"], c["learningRate"], c["weightDecay"]
    betas = (c["beta1"], c["beta2"])
    if name == "adam": return torch.optim.Adam(params, lr=lr, betas=betas, eps=c["epsilon"], weight_decay=wd)
    if name == "amsgrad": return torch.optim.Adam(params, lr=lr, betas=betas, eps=c["epsilon"], weight_decay=wd, amsgrad=True)
    if name == "adamw": return torch.optim.AdamW(params, lr=lr, betas=betas, eps=c["epsilon"], weight_decay=wd)
    if name == "sgd": return torch.optim.SGD(params, lr=lr, momentum=c["momentum"], weight_decay=wd, nesterov=c.get("nesterov", False))
    if name == "rmsprop": return torch.optim.RMSprop(params, lr=lr, alpha=c.get("alpha", 0.99), eps=c["epsilon"], weight_decay=wd, momentum=c["momentum"])
    raise SystemExit(f"unknown optimizer {name}")


# The engine's buffers by PyTorch's state names: m is Adam's exp_avg or a momentum buffer (SGD, RMSprop), v Adam's
# exp_avg_sq or RMSprop's square_avg.
BUFFERS = {"m": ("exp_avg", "momentum_buffer"), "v": ("exp_avg_sq", "square_avg"), "vMax": ("max_exp_avg_sq",)}


def state_of(opt, params):
    out = {}
    for key, names in BUFFERS.items():
        for n in names:
            if all(n in opt.state[q] and opt.state[q][n] is not None for q in params):
                out[key] = b64([opt.state[q][n] for q in params])
    return out


def reference(c):
    torch.manual_seed(c["seed"])
    net = Net()
    init = {k: {"shape": list(v.shape), "data": flat(v)} for k, v in net.state_dict().items()}
    B, steps = c["batchSize"], c["steps"]
    raw = torch.randint(0, 256, (steps, B, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (steps, B))
    x0 = raw[0].float() / 127.5 - 1.0
    logits = net(x0); loss = F.cross_entropy(logits, labels[0]); loss.backward()
    grads = {k: flat(q.grad) for k, q in net.named_parameters()}
    net.zero_grad()
    params = list(net.parameters())
    opt = make_opt(c, params)
    forced_at = sorted({1, steps // 3, (2 * steps) // 3, steps - 1} - {0})
    losses, forced = [], []
    for t in range(steps):
        before = {"step": t, "params": b64(params), "state": state_of(opt, params)} if t in forced_at else None
        opt.zero_grad(); l = F.cross_entropy(net(raw[t].float() / 127.5 - 1.0), labels[t]); l.backward(); opt.step()
        losses.append(float(l))
        if before: forced.append({**before, "loss": float(l), "paramsAfter": b64(params)})
    final = {k: flat(v) for k, v in net.state_dict().items()}
    g = torch.Generator().manual_seed(c["seed"] + 1)
    theta0 = torch.randn(8, generator=g, dtype=torch.float64); gs = torch.randn(50, 8, generator=g, dtype=torch.float64)
    th = theta0.clone().requires_grad_(True); o = make_opt(c, [th]); traj = []
    for t in range(50):
        o.zero_grad(); th.grad = gs[t].clone(); o.step(); traj.append(flat(th))
    optimizer = {"name": c["optimizer"], "learningRate": c["learningRate"], "weightDecay": c["weightDecay"]}
    if c["optimizer"] in ("adam", "adamw", "amsgrad"): optimizer.update(beta1=c["beta1"], beta2=c["beta2"], epsilon=c["epsilon"])
    if c["optimizer"] == "sgd": optimizer.update(momentum=c["momentum"], nesterov=c.get("nesterov", False))
    if c["optimizer"] == "rmsprop": optimizer.update(alpha=c.get("alpha", 0.99), epsilon=c["epsilon"], momentum=c["momentum"])
    doc = {
        "about": "PyTorch reference for the CIFAR-10 tutorial CNN and one optimizer (test/reference/make_reference.py)",
        "torch_version": torch.__version__,
        "config": c,
        "optimizer": optimizer,
        "batch_size": B,
        "init_params": init,
        "first_batch": {"images_u8": [int(v) for v in raw[0].reshape(-1).tolist()], "labels": [int(v) for v in labels[0].tolist()],
                        "logits": flat(logits), "loss": float(loss), "grads": grads},
        "training": {"steps": steps, "images_u8": [int(v) for v in raw.reshape(-1).tolist()], "labels": [int(v) for v in labels.reshape(-1).tolist()],
                     "losses": losses, "final_params": final, "teacher_forced": forced},
        "optimizer_only": {"theta0": flat(theta0), "grads": [flat(r) for r in gs], "trajectory": traj},
    }
    if c["optimizer"] == "adam" and c["weightDecay"] == 0:
        doc["adam"] = {"lr": c["learningRate"], "beta1": c["beta1"], "beta2": c["beta2"], "eps": c["epsilon"]}
        doc["adam_only"] = doc["optimizer_only"]
    return doc


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--configs", required=True); p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for c in json.load(open(a.configs)):
        with open(os.path.join(a.out_dir, c["file"]), "w") as f: json.dump(reference(c), f)
        print(c["file"], flush=True)
