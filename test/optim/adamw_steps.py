"""torch.optim.AdamW on float32 tensors (foreach=False: the single-tensor path, as train.py runs on the CPU), for test/optim/adamw.pytorch.test.ts. Reads JSON on stdin: a list of cases,
each {params, grads (one list per step), lr (one per step), weightDecay, beta1, beta2, epsilon}; writes the params after
each case's last step, as a list of lists of float32 values (exact: float32 -> float64 is exact in JSON)."""
import json
import sys

import torch

out = []
for case in json.load(sys.stdin):
    p = torch.nn.Parameter(torch.tensor(case['params'], dtype=torch.float32))
    opt = torch.optim.AdamW([p], lr=case['lr'][0], betas=(case['beta1'], case['beta2']), eps=case['epsilon'],
                            weight_decay=case['weightDecay'], foreach=False)
    for g, lr in zip(case['grads'], case['lr']):
        opt.param_groups[0]['lr'] = lr
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    out.append(p.detach().tolist())
json.dump(out, sys.stdout)
