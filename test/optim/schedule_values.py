"""PyTorch's own schedulers, stepped once per optimizer step: reads a JSON list of schedule configurations
(sidecar/optim/schedule.ts ScheduleConfig) on stdin and prints, for each, the lr of every step 0..scheduleSteps-1
as PyTorch's optimizer holds it when optimizer.step() runs. Warmup is SequentialLR([LinearLR, main], [W])."""
import json
import sys
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore")


def main_scheduler(opt, c, steps):
    kind = c["schedule"]
    if kind == "constant":
        return S.LambdaLR(opt, lambda k: 1.0)
    if kind == "step":
        return S.StepLR(opt, step_size=c["stepSize"], gamma=c["gamma"])
    if kind == "cosine":
        return S.CosineAnnealingLR(opt, T_max=steps, eta_min=c["minLearningRate"])
    if kind == "onecycle":
        return S.OneCycleLR(opt, max_lr=c["maxLearningRate"], total_steps=steps, pct_start=c["pctStart"],
                            anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4, cycle_momentum=False)
    raise ValueError(kind)


def values(c):
    W = c["warmupSteps"]
    steps = c["scheduleSteps"] - W
    param = torch.nn.Parameter(torch.zeros(1))
    # OneCycleLR ignores the optimizer's lr and starts at max_lr / 25: the warmup ramps to that start.
    lr = c["maxLearningRate"] / 25.0 if c["schedule"] == "onecycle" else c["learningRate"]
    opt = torch.optim.SGD([param], lr=lr)
    if W > 0:
        warm = S.LinearLR(opt, start_factor=1.0 / (W + 1), end_factor=1.0, total_iters=W)
        sched = S.SequentialLR(opt, [warm, main_scheduler(opt, c, steps)], milestones=[W])
    else:
        sched = main_scheduler(opt, c, steps)
    out = []
    for _ in range(c["scheduleSteps"]):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


json.dump([values(c) for c in json.load(sys.stdin)], sys.stdout)
