"""PyTorch reference vectors for the property test (test/reference/property.test.ts) and for check-reference.

The layout is ../shared/reference's (README.md there), written with the same RNG calls in the same order, so the
same seed gives the same initial weights, batches and numbers as the shared make_reference.py. One key is added:
`training.teacher_forced`, PyTorch's own state before a few steps of the run (parameters, the optimizer's
buffers, the step's loss and the parameters after it), so an engine can be checked one step at a time from
PyTorch's exact state instead of only at the end of a trajectory that both have been free to drift apart on
(a near-zero gradient whose rounding differs moves Adam by a sizeable fraction of lr; see check-reference).
Float32 arrays are stored as base64 little-endian bytes: exact, and a tenth of the size of JSON numbers.

Near ties. A 2x2 max-pool window whose two largest values lie within float32 rounding of each other has no single
right winner: an engine that sums a convolution in another order may pick the runner-up and route that window's
gradient to another position, as right as PyTorch's choice. For the first batch and for every single step, the
file lists such windows (`near_ties`, at most NEAR_TIES_KEPT, closest first) and PyTorch's own results with every
subset of them taken by its runner-up (`alternatives`: where and by how much they differ from the main result). A
window is near when its gap is at most 2 sqrt(n) units of float32 rounding (u = 2^-24) of the sum of the absolute
terms of its two values (n terms: 75 for conv1, 75 + 150 for conv2 through conv1): the size of a reordered float32
sum's error, on average. check-reference uses these only when the main result does not match, and says which.

A ReLU is a near tie the same way: where its input lies within float32 rounding of zero (2 sqrt(n) u of the sum of the
absolute terms of every product that reaches it, n terms through the layers before it), an engine that sums in another
order, or fuses a multiply and an add, may find it on where PyTorch finds it off, and its gradient then flows (or not)
through that unit. Such units are listed with the windows (`"kind": "relu"`; a window's entry has no kind), closest
first among both, and an alternative flips them. PROPERTY_SEED=1383675686's configuration 23 found one: fc2's unit 7 on
image 0 had the input 2.2e-8 in PyTorch's float32 (4.0e-8 in float64), 0.72 rounding units of its terms' 0.52 from
zero; the engine's fused multiply-adds put it at or below zero and fc2.bias[7]'s gradient lacked that image's share.

  /usr/bin/python3 make_reference.py --configs CONFIGS.json --out-dir DIR
CONFIGS.json is a list of {"file", "seed", "optimizer", "learningRate", "beta1", "beta2", "epsilon",
"weightDecay", "momentum", "nesterov", "alpha", "batchSize", "steps"}; one file is written per entry. Optimizers: adam,
adamw, amsgrad (torch.optim.Adam / AdamW), sgd (momentum, nesterov), rmsprop (alpha, epsilon, momentum; centered=False).
"""
import argparse, base64, copy, itertools, json, math, os
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


U = 2.0 ** -24
NEAR_TIES_KEPT = 4


def pooled(c, swaps):
    """2x2 max pool of c (N, C, H, W) as PyTorch picks it, except that each (n, ch, oy, ox, position) in swaps takes
    the input at that flat position in its plane instead: the gradient then flows to it, as it would in an engine
    that picked it."""
    out, idx = F.max_pool2d(c, 2, return_indices=True)
    if not swaps: return out
    idx = idx.clone()
    for n, ch, oy, ox, pos in swaps: idx[n, ch, oy, ox] = pos
    return c.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)


def relu(z, flips):
    """F.relu(z), except that each index in flips (a tuple into z) is on where PyTorch has it off and off where on.
    The gradient flows through exactly the units that are on. A unit turned on has |z| (at most rounding above zero),
    as an engine that finds it on has: so it can win its pool window over the zeros around it."""
    if not flips: return F.relu(z)
    on = z > 0
    for i in flips: on[i] = ~on[i]
    return torch.where(on, z, torch.zeros_like(z)) + torch.where(on & (z <= 0), -2 * z.detach(), torch.zeros_like(z))


def forward(net, x, swaps=()):
    """The net as PyTorch computes it, with each near tie in swaps (entries of near_ties) taken the other way."""
    pool = lambda layer: [(t["image"], t["channel"], t["y"], t["x"], t["runnerUp"]) for t in swaps if t.get("kind", "pool") == "pool" and t["layer"] == layer]
    flips = lambda layer: [tuple(t["index"]) for t in swaps if t.get("kind") == "relu" and t["layer"] == layer]
    x = pooled(relu(net.conv1(x), flips("conv1")), pool(1)); x = pooled(relu(net.conv2(x), flips("conv2")), pool(2)); x = torch.flatten(x, 1)
    return net.fc3(relu(net.fc2(relu(net.fc1(x), flips("fc1"))), flips("fc2")))


def near_ties(net, x):
    """The windows whose two largest (positive) values are within 2 sqrt(n) u of the sum of their terms' magnitudes,
    and the ReLUs whose input is within 2 sqrt(n) u of that sum from zero (for a convolution's, only where it is its
    pool window's largest input: elsewhere the window's gradient does not reach it either way)."""
    with torch.no_grad():
        z1 = net.conv1(x); c1 = F.relu(z1); a1 = F.conv2d(x.abs(), net.conv1.weight.abs(), net.conv1.bias.abs())
        z2 = net.conv2(F.max_pool2d(c1, 2)); c2 = F.relu(z2); a2 = F.conv2d(F.max_pool2d(a1, 2), net.conv2.weight.abs(), net.conv2.bias.abs())
        h0 = torch.flatten(F.max_pool2d(c2, 2), 1); a0 = torch.flatten(F.max_pool2d(a2, 2), 1)
        z3 = net.fc1(h0); a3 = F.linear(a0, net.fc1.weight.abs(), net.fc1.bias.abs())
        z4 = net.fc2(F.relu(z3)); a4 = F.linear(a3, net.fc2.weight.abs(), net.fc2.bias.abs())
    found = []
    for layer, z, a, n in (("conv1", z1, a1, 75), ("conv2", z2, a2, 225), ("fc1", z3, a3, 625), ("fc2", z4, a4, 745)):
        units = z.abs() / (U * a)
        near = units <= 2 * math.sqrt(n)
        if z.dim() == 4:  # a convolution's: only its window's largest input
            N, C, H, W = z.shape
            winner = F.max_pool2d(z, 2, return_indices=True)[1]
            largest = torch.zeros(N, C, H * W, dtype=torch.bool).scatter_(2, winner.flatten(2), True).view(N, C, H, W)
            near &= largest
        for index in near.nonzero().tolist():
            found.append({"kind": "relu", "layer": layer, "image": index[0], "index": index,
                          "on": bool(z[tuple(index)] > 0), "gapInRoundingUnits": float(units[tuple(index)])})
    for layer, c, a, n in ((1, c1, a1, 75), (2, c2, a2, 225)): found += pool_ties(layer, c, a, n)
    return sorted(found, key=lambda t: t["gapInRoundingUnits"])[:NEAR_TIES_KEPT]


def pool_ties(layer, c, a, n):
    """The 2x2 windows of c (N, C, H, W: a convolution's output after its ReLU) whose largest (positive) value is
    within 2 sqrt(n) u of the next, u relative to the sum of their terms' magnitudes (a: those sums per input)."""
    N, C, H, W = c.shape
    win = lambda t: t.reshape(N, C, H // 2, 2, W // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4)
    # The winner is the input max_pool2d picked (the first largest in scan order), not topk's first: on an exact
    # tie topk may list the other one first, and its second is then max_pool2d's own pick, a "runner-up" that
    # swaps nothing (PROPERTY_SEED=236566993's configuration 6: two equal values in a window, and topk listed the
    # later one first).
    wc = win(c); wa = win(a)
    picked = F.max_pool2d(c, 2, return_indices=True)[1]
    first = ((picked // W) % 2 * 2 + (picked % W) % 2).unsqueeze(-1)
    second = wc.scatter(-1, first, float("-inf")).argmax(dim=-1, keepdim=True)
    v1, v2 = wc.gather(-1, first)[..., 0], wc.gather(-1, second)[..., 0]
    units = (v1 - v2) / (U * (wa.gather(-1, first)[..., 0] + wa.gather(-1, second)[..., 0]))
    found = []
    for nn_, ch, oy, ox in ((units <= 2 * math.sqrt(n)) & (v1 > 0)).nonzero().tolist():
        k = int(second[nn_, ch, oy, ox, 0])
        pos = (2 * oy + k // 2) * W + 2 * ox + k % 2
        found.append({"layer": layer, "image": nn_, "channel": ch, "y": oy, "x": ox, "runnerUp": pos,
                      "gapInRoundingUnits": float(units[nn_, ch, oy, ox])})
    return found


# Float32 rounding of a gradient. Where PyTorch's gradient is itself of the size of float32 rounding (terms that
# cancel, a saturated softmax's p - y, a ReLU barely on), an engine that sums in another order gets another value just
# as right, and an optimizer whose state is still small turns that difference into a sizeable step (Adam and AMSGrad
# with m = v = 0 move by up to lr for any gradient far above eps): PROPERTY_SEED=1125464023's configuration 20 moved
# fc2.weight[52][55] by 0.26 lr more than PyTorch at step 1, from a gradient that is 9.7e-10 in PyTorch's float32 and
# 1.9e-8 in float64 from the same float32 inputs. So for each single step the file carries PyTorch's gradient and
# how far float32 rounding moves it: PyTorch computes the same gradient again in float32 in ORDERINGS other summation
# orders (the same net with its input channels, hidden units, classes and batch permuted, which sums every layer's
# terms in another order; the results are permuted back) and in float64 from the same float32 values. The bound is
# twice the largest distance of the float32 results (PyTorch's own among them) from float64's, per element. A
# magnitude bound (2 sqrt(n) u times the sum of every product's absolute value, as near_ties uses for one sum) was
# tried first: through five layers it grows with the product of the weights' magnitudes, and for fc2.weight[52][55]
# it was 0.026 where the furthest float32 result lay 3.7e-8 from float64, so any step would have passed there.
ORDERINGS = 8


def permuted_gradients(net, x, labels, gen):
    """The flat float32 gradient of the batch's loss, with every summed dimension of the net in a random order."""
    sd = {k: v.detach().clone() for k, v in net.state_dict().items()}
    perm = lambda n: torch.randperm(n, generator=gen)
    c0, c1, c2, h1, h2, k = perm(3), perm(6), perm(16), perm(120), perm(84), perm(10)
    b = perm(x.shape[0])
    fc1_in = (c2[:, None] * 25 + torch.arange(25)[None, :]).reshape(-1)  # conv2's channels, each a block of 25
    order = {"conv1.weight": (c1, c0), "conv1.bias": (c1,), "conv2.weight": (c2, c1), "conv2.bias": (c2,),
             "fc1.weight": (h1, fc1_in), "fc1.bias": (h1,), "fc2.weight": (h2, h1), "fc2.bias": (h2,),
             "fc3.weight": (k, h2), "fc3.bias": (k,)}
    p = copy.deepcopy(net)
    with torch.no_grad():
        for name, t in p.named_parameters():
            v = sd[name]
            for dim, ix in enumerate(order[name]): v = v.index_select(dim, ix)
            t.copy_(v)
    p.zero_grad()
    F.cross_entropy(p(x[b][:, c0]), torch.argsort(k)[labels[b]]).backward()
    grads = []
    for name, t in p.named_parameters():
        g = t.grad
        for dim, ix in enumerate(order[name]): g = g.index_select(dim, torch.argsort(ix))
        grads.append(g)
    return flat32(grads)


def gradient_rounding(net, x, labels, grads, seed):
    """The bound above for grads, PyTorch's float32 gradient of this batch's loss at net (flat); net is not changed."""
    n64 = copy.deepcopy(net).double(); n64.zero_grad(); F.cross_entropy(n64(x.double()), labels).backward()
    exact = np.concatenate([q.grad.reshape(-1).numpy() for q in n64.parameters()])
    gen = torch.Generator().manual_seed(seed)
    distance = np.abs(grads.astype(np.float64) - exact)
    for _ in range(ORDERINGS):
        distance = np.maximum(distance, np.abs(permuted_gradients(net, x, labels, gen).astype(np.float64) - exact))
    return (2 * distance).astype(np.float32)


def b64_flat(a): return base64.b64encode(a.astype('<f4').tobytes()).decode()


def swaps_of(ties, subset): return [ties[i] for i in subset]
def subsets(k): return [list(c) for r in range(1, k + 1) for c in itertools.combinations(range(k), r)]


def sparse(values, main):
    """Where values (a flat float32 array) differ from main, and by how much (float64 differences stored as float32,
    so that main + delta is values to within float32 rounding of the difference). Differences, not values: a
    corrupted main result stays corrupted under every alternative."""
    i = np.nonzero(values != main)[0]
    delta = values[i].astype(np.float64) - main[i].astype(np.float64)
    return {"index": base64.b64encode(i.astype('<i4').tobytes()).decode(), "delta": base64.b64encode(delta.astype('<f4').tobytes()).decode()}


def flat32(tensors): return np.concatenate([t.detach().reshape(-1).numpy().astype(np.float32) for t in tensors])


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
    main_grads = flat32([q.grad for q in net.parameters()])
    net.zero_grad()
    first_ties = near_ties(net, x0); first_alts = []
    for subset in subsets(len(first_ties)):
        F.cross_entropy(forward(net, x0, swaps_of(first_ties, subset)), labels[0]).backward()
        first_alts.append({"swapped": subset, "grads": sparse(flat32([q.grad for q in net.parameters()]), main_grads)})
        net.zero_grad()
    params = list(net.parameters())
    opt = make_opt(c, params)
    forced_at = sorted({1, steps // 3, (2 * steps) // 3, steps - 1} - {0})
    losses, forced = [], []
    for t in range(steps):
        x = raw[t].float() / 127.5 - 1.0
        before = None
        if t in forced_at:
            before = {"step": t, "params": b64(params), "state": state_of(opt, params), "near_ties": near_ties(net, x)}
            saved_net, saved_opt = copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict())
        opt.zero_grad(); l = F.cross_entropy(net(x), labels[t]); l.backward()
        if before:
            # The step's own gradient, before the optimizer takes it, and its rounding bound.
            g = flat32([q.grad for q in params])
            before.update(grads=b64_flat(g), gradRounding=b64_flat(gradient_rounding(net, x, labels[t], g, c["seed"] * 1000 + t)))
        opt.step()
        losses.append(float(l))
        if before:
            main_after, main_net, main_opt, alts = flat32(params), copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict()), []
            for subset in subsets(len(before["near_ties"])):
                net.load_state_dict(saved_net); opt.load_state_dict(saved_opt)
                opt.zero_grad(); la = F.cross_entropy(forward(net, x, swaps_of(before["near_ties"], subset)), labels[t]); la.backward(); opt.step()
                alts.append({"swapped": subset, "loss": float(la), "paramsAfter": sparse(flat32(params), main_after)})
            net.load_state_dict(main_net); opt.load_state_dict(main_opt)
            forced.append({**before, "loss": float(l), "paramsAfter": b64(params), "alternatives": alts})
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
                        "logits": flat(logits), "loss": float(loss), "grads": grads, "near_ties": first_ties, "alternatives": first_alts},
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
