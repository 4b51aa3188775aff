"""train.py of an export, with its gradients summed in float64: the float32 weights, optimizer and data order are
train.py's own; only the forward and backward passes run on float64 copies of the weights (torch's autograd rounds each
gradient to float32 once, where it reaches the float32 weight). The tests run it beside train.py to measure how far
PyTorch's free-running losses move for the rounding of its float32 sums alone (the weights' gradients that nearly
cancel, which Adam turns into steps a sizeable part of lr where |g| is near eps).

    python float64_gradients.py EXPORT_DIR [train.py's arguments]
"""
import importlib.util
import json
import os
import sys

import torch
from torch import nn

try:
    from torch.func import functional_call
except ImportError:  # torch < 2.0
    from torch.nn.utils.stateless import functional_call


class Float64Passes(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        weights = {name: p.double() for name, p in self.net.named_parameters()}
        return functional_call(self.net, weights, (x.double(),))


def main():
    export = sys.argv[1]
    spec = importlib.util.spec_from_file_location('exported_train', os.path.join(export, 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    with open(os.path.join(export, 'run.json')) as f:
        run = json.load(f)
    sys.argv = [os.path.join(export, 'train.py')] + sys.argv[2:]
    args = train.parse_args(run)
    experiment = train.Experiment(run, args)
    if experiment.world > 1:
        sys.exit('float64_gradients.py runs one process')
    experiment.model = Float64Passes(experiment.net)
    return experiment.run()


if __name__ == '__main__':
    sys.exit(main())
