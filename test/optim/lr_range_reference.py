"""pytorch-lr-finder's LRFinder.range_test and its suggestion, written out with numpy (its defaults: ExponentialLR,
smooth_f 0.05, diverge_th 5, skip_start 10, skip_end 5), fed given per-step losses instead of training: reads
[{minLr, maxLr, steps, losses}] on stdin, prints [{lrs, smoothed, suggestion, minLossLr}]."""
import json
import sys

import numpy as np


def range_test(c):
    n = c["steps"]
    lrs, history, best = [], [], None
    for i in range(n):
        loss = c["losses"][i]
        lrs.append(c["minLr"] * (c["maxLr"] / c["minLr"]) ** (i / (n - 1)))
        if i == 0:
            best = loss
        else:
            loss = 0.05 * loss + (1 - 0.05) * history[-1]
            if loss < best:
                best = loss
        history.append(loss)
        if loss > 5 * best:
            break
    kept_lrs, kept = lrs[10:-5], history[10:-5]
    suggestion = kept_lrs[int(np.gradient(np.array(kept)).argmin())] if len(kept) >= 2 else None
    return {"lrs": lrs, "smoothed": history, "suggestion": suggestion, "minLossLr": lrs[int(np.argmin(history))]}


json.dump([range_test(c) for c in json.load(sys.stdin)], sys.stdout)
