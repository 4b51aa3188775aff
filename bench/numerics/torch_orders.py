"""PyTorch against itself: how far a free-running run of a reference file drifts when only the arithmetic's
rounding changes, judged by check-reference's tolerances (losses 1e-4 relative; final parameters
0.05*lr + 1e-3*|b|). Prints one line per variant: the worst error of each as a multiple of what is allowed.

  /usr/bin/python3 bench/numerics/torch_orders.py REFERENCE.json

Variants, each from the file's initial weights on the file's batches, with the file's optimizer:
  float64       the same run in float64 (closer to exact than the float32 run the file holds)
  lanes4        float32, with each linear layer summed in 4 interleaved partial sums added at the end, as an
                f32x4 accumulator sums (this engine's kernels do)
  pairwise      float32, each linear layer summed by torch's pairwise reduction
  reversed      float32, the same GEMM over the inputs in reverse order
A multiple above 1 from any of these is a run that no float32 or float64 engine can be expected to follow.
"""
import json, sys
import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(1)


def linear(x, layer, order):
    if order == "pairwise":
        return (x.unsqueeze(1) * layer.weight.unsqueeze(0)).sum(-1) + layer.bias
    if order == "lanes4":
        products = x.unsqueeze(1) * layer.weight.unsqueeze(0)
        acc = torch.zeros(products.shape[:-1] + (4,), dtype=x.dtype)
        for k in range(0, products.shape[-1], 4):
            acc = acc + products[..., k:k + 4]
        return ((acc[..., 0] + acc[..., 2]) + (acc[..., 1] + acc[..., 3])) + layer.bias
    if order == "reversed":
        return F.linear(x.flip(-1), layer.weight.flip(-1), layer.bias)
    return F.linear(x, layer.weight, layer.bias)


class Net(nn.Module):
    def __init__(s, order):
        super().__init__(); s.order = order
        s.conv1 = nn.Conv2d(3, 6, 5); s.pool = nn.MaxPool2d(2, 2); s.conv2 = nn.Conv2d(6, 16, 5)
        s.fc1 = nn.Linear(400, 120); s.fc2 = nn.Linear(120, 84); s.fc3 = nn.Linear(84, 10)

    def forward(s, x):
        x = s.pool(F.relu(s.conv1(x))); x = s.pool(F.relu(s.conv2(x))); x = torch.flatten(x, 1)
        h = F.relu(linear(x, s.fc1, s.order)); h = F.relu(linear(h, s.fc2, s.order))
        return linear(h, s.fc3, s.order)


def optimizer_of(ref, params):
    o = ref.get("optimizer") or {"name": "adam", "learningRate": ref["adam"]["lr"], "beta1": ref["adam"]["beta1"],
                                 "beta2": ref["adam"]["beta2"], "epsilon": ref["adam"]["eps"], "weightDecay": 0}
    name, lr, wd = o["name"], o["learningRate"], o.get("weightDecay", 0)
    if name == "sgd": return torch.optim.SGD(params, lr=lr, momentum=o.get("momentum", 0), weight_decay=wd, nesterov=o.get("nesterov", False)), lr
    if name == "rmsprop": return torch.optim.RMSprop(params, lr=lr, alpha=o.get("alpha", 0.99), eps=o["epsilon"], weight_decay=wd, momentum=o.get("momentum", 0)), lr
    betas, eps = (o["beta1"], o["beta2"]), o["epsilon"]
    if name == "adamw": return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=wd), lr
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=name == "amsgrad"), lr


def tensor(entry, dtype):
    data = entry["data"] if isinstance(entry, dict) else entry
    return torch.tensor(data, dtype=dtype)


def run(ref, dtype, order):
    B, steps = ref["batch_size"], ref["training"]["steps"]
    net = Net(order).to(dtype)
    net.load_state_dict({k: tensor(v, dtype).reshape(v["shape"]) for k, v in ref["init_params"].items()})
    opt, lr = optimizer_of(ref, net.parameters())
    images = torch.tensor(ref["training"]["images_u8"], dtype=torch.uint8).reshape(steps, B, 3, 32, 32)
    labels = torch.tensor(ref["training"]["labels"]).reshape(steps, B)
    losses = []
    for t in range(steps):
        opt.zero_grad(); loss = F.cross_entropy(net(images[t].to(dtype) / 127.5 - 1.0), labels[t]); loss.backward(); opt.step()
        losses.append(float(loss))
    final = torch.cat([v.reshape(-1).double() for v in net.state_dict().values()])
    expected = torch.cat([tensor(v, torch.float64).reshape(-1) for v in ref["training"]["final_params"].values()])
    params = float(((final - expected).abs() / (0.05 * lr + 1e-3 * expected.abs())).max())
    want = torch.tensor(ref["training"]["losses"], dtype=torch.float64)
    got = torch.tensor(losses, dtype=torch.float64)
    return float(((got - want).abs() / (1e-4 * want.abs())).max()), params


if __name__ == "__main__":
    ref = json.load(open(sys.argv[1]))
    for name, dtype, order in (("float64", torch.float64, "gemm"), ("lanes4", torch.float32, "lanes4"),
                               ("pairwise", torch.float32, "pairwise"), ("reversed", torch.float32, "reversed")):
        losses, params = run(ref, dtype, order)
        print(json.dumps({"variant": name, "lossesErrorOverAllowed": round(losses, 2), "finalParamsErrorOverAllowed": round(params, 2)}))
