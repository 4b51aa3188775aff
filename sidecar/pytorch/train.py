#!/usr/bin/env python3
r"""An adam-trainer run, reproduced in PyTorch.

@@RUN_SUMMARY@@

Alone:               python train.py --data DIR
One machine, 4 CPUs: torchrun --standalone --nproc_per_node 4 train.py --data DIR
Several machines:    torchrun --nnodes 2 --node_rank 0|1 --nproc_per_node 4 \
                         --master_addr HOST --master_port 29500 train.py --data DIR

Anything that sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (torchrun, Slurm, your own launcher)
starts DistributedDataParallel: each process takes an equal share of every global batch and DDP averages
the gradients (gloo on CPU, NCCL on CUDA), so the global batch and the trajectory stay the run's.

Next to this file: init.safetensors (the run's initial weights, and the optimizer's state and the
epoch's data order when exported from a checkpoint) and run.json (configuration, edits, data order).
PyTorch, numpy and (for image folders) Pillow only.
"""
import argparse
import hashlib
import json
import math
import os
import re
import socket
import struct
import sys
import time
from datetime import datetime, timezone

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
IMAGE_BYTES = 3 * 32 * 32
LAYERS = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3']


# ---------------------------------------------------------------------------------------------------
# The network: PyTorch's CIFAR-10 tutorial CNN, under adam-trainer's (and the tutorial's) state_dict names.

class Net(nn.Module):
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


# ---------------------------------------------------------------------------------------------------
# The data: the files adam-trainer reads, in its order. Images stay uint8 [N, 3*32*32] (C, H, W) and are
# normalised as x/127.5 - 1 when a batch is drawn, as the run did.

BINARY_TRAIN = ['data_batch_%d.bin' % i for i in range(1, 6)]
BINARY_TEST = ['test_batch.bin']


def load_binary(folder, names):
    records = np.concatenate([np.fromfile(os.path.join(folder, n), dtype=np.uint8) for n in names])
    if records.size % (IMAGE_BYTES + 1):
        raise UsageError('%s holds a partial record: CIFAR-10 records are 3,073 bytes' % folder)
    records = records.reshape(-1, IMAGE_BYTES + 1)
    return np.ascontiguousarray(records[:, 1:]), records[:, 0].astype(np.int64)


def load_image_split(folder):
    # Classes in label order, files in name order within a class, dotfiles skipped; RGB as PIL converts it.
    from PIL import Image
    images, labels = [], []
    for label, name in enumerate(CLASSES):
        class_dir = os.path.join(folder, name)
        if not os.path.isdir(class_dir):
            raise UsageError('%s has no folder for the class %r' % (folder, name))
        for file in sorted(f for f in os.listdir(class_dir) if not f.startswith('.')):
            with Image.open(os.path.join(class_dir, file)) as im:
                pixels = np.asarray(im.convert('RGB'), dtype=np.uint8)
            if pixels.shape != (32, 32, 3):
                raise UsageError('%s is not 32x32 pixels' % os.path.join(class_dir, file))
            images.append(pixels.transpose(2, 0, 1).reshape(-1))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def load_dataset(path):
    """(train_images, train_labels, test_images, test_labels, description), as adam-trainer's --data reads DIR."""
    for folder in (path, os.path.join(path, 'cifar-10-batches-bin')):
        if any(os.path.exists(os.path.join(folder, n)) for n in BINARY_TRAIN + BINARY_TEST):
            missing = [n for n in BINARY_TRAIN + BINARY_TEST if not os.path.exists(os.path.join(folder, n))]
            if missing:
                raise UsageError('%s lacks %s' % (folder, ', '.join(missing)))
            return load_binary(folder, BINARY_TRAIN) + load_binary(folder, BINARY_TEST) + ('CIFAR-10 binary at %s' % folder,)
    if os.path.isdir(os.path.join(path, 'train')) and os.path.isdir(os.path.join(path, 'test')):
        return load_image_split(os.path.join(path, 'train')) + load_image_split(os.path.join(path, 'test')) + ('image folder %s' % path,)
    raise UsageError('%s is neither the CIFAR-10 binary layout (data_batch_1.bin .. test_batch.bin) '
                     'nor an image folder (train/<class>/, test/<class>/)' % path)


def normalise(images):
    return torch.from_numpy(images).float().div_(127.5).sub_(1).view(-1, 3, 32, 32)


# ---------------------------------------------------------------------------------------------------
# The data order: adam-trainer's generator (sidecar/rng.ts, xoshiro128** seeded by splitmix32) and its
# Fisher-Yates shuffle, in integers, so every epoch's permutation is the run's exactly.

M32 = 0xFFFFFFFF


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    def __init__(self, seed=None, state=None):
        if state is not None:
            self.s = [int(v) & M32 for v in state]
            return
        s, words = seed & M32, []
        for _ in range(4):  # splitmix32
            s = (s + 0x9E3779B9) & M32
            z = ((s ^ (s >> 16)) * 0x85EBCA6B) & M32
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
            words.append(z ^ (z >> 16))
        self.s = words if any(words) else [1, 0, 0, 0]

    def next_u32(self):
        s = self.s
        result = (rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
        return result

    def next_int(self, n):  # uniform in [0, n), rejection without modulo bias
        limit = 0x100000000 - (0x100000000 % n)
        x = self.next_u32()
        while x >= limit:
            x = self.next_u32()
        return x % n

    def permutation(self, n):
        out = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.next_int(i + 1)
            out[i], out[j] = out[j], out[i]
        return np.array(out, dtype=np.int64)


# ---------------------------------------------------------------------------------------------------
# Data augmentation, adam-trainer's `augment: flip-crop` (sidecar/data/augment.ts): after each epoch's permutation
# the run's generator draws the epoch's augmentSeed; a generator seeded with it draws one code in [0, 162) per
# position of the permutation: flip = code % 2, dx = (code // 2) % 9, dy = code // 18. The image, zero-padded by 4
# pixels, is cropped at (dy, dx) to 32x32, then flipped left-right when flip is 1. Evaluation never augments.

AUGMENT_CODES = 2 * 9 * 9


def augment_codes(augment_seed, n):
    rng = Rng(seed=augment_seed)
    return np.array([rng.next_int(AUGMENT_CODES) for _ in range(n)], dtype=np.int64)


def flip_crop(images, codes):
    """uint8 images (k, 3072) and their codes -> the augmented uint8 images (k, 3072)."""
    padded = np.zeros((len(images), 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = images.reshape(-1, 3, 32, 32)
    out = np.empty((len(images), 3, 32, 32), dtype=np.uint8)
    for i, code in enumerate(codes):
        dx, dy = (int(code) // 2) % 9, int(code) // 18
        crop = padded[i, :, dy:dy + 32, dx:dx + 32]
        out[i] = crop[:, :, ::-1] if code % 2 == 1 else crop
    return out.reshape(len(images), -1)


# ---------------------------------------------------------------------------------------------------
# init.safetensors: an 8-byte little-endian header length, a JSON header, raw little-endian tensors.

SAFETENSORS_DTYPES = {'F32': '<f4', 'F64': '<f8', 'I32': '<i4', 'I64': '<i8', 'U32': '<u4', 'U8': 'u1'}


def read_safetensors(path):
    with open(path, 'rb') as f:
        (length,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name != '__metadata__':
            begin, end = info['data_offsets']
            array = np.frombuffer(data, dtype=SAFETENSORS_DTYPES[info['dtype']], count=(end - begin) // np.dtype(SAFETENSORS_DTYPES[info['dtype']]).itemsize, offset=begin)
            tensors[name] = array.reshape(info['shape']).copy()
    return tensors


# ---------------------------------------------------------------------------------------------------
# The optimizer, as torch.optim defines it: Adam's weight decay is L2 (added to the gradient), AdamW's is
# decoupled (p <- p * (1 - lr * wd)), AMSGrad keeps the running maximum of v. Every hyperparameter can be
# changed between steps through optimizer.param_groups, which is how the run's edits are replayed.

class AdamWithoutBiasCorrection(torch.optim.Optimizer):
    """adam-trainer's `biasCorrection: false` (the ablation of Kingma & Ba's section 3, and what ConvNetJS's Adam does):
    Adam, AdamW or AMSGrad with both bias corrections left out, p <- p - lr * m / (sqrt(v) + eps). torch.optim has no
    such switch, so the rule is written here, with torch.optim.Adam's own operations and state names."""

    def __init__(self, params, lr, betas, eps, weight_decay, decoupled, amsgrad):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.decoupled, self.amsgrad = decoupled, amsgrad

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad
                if self.decoupled:
                    p.mul_(1 - group['lr'] * group['weight_decay'])
                elif group['weight_decay'] != 0:
                    grad = grad.add(p, alpha=group['weight_decay'])
                state = self.state[p]
                if len(state) == 0:
                    state['step'] = torch.tensor(0.0)
                    state['exp_avg'], state['exp_avg_sq'] = torch.zeros_like(p), torch.zeros_like(p)
                    if self.amsgrad:
                        state['max_exp_avg_sq'] = torch.zeros_like(p)
                state['step'] += 1
                state['exp_avg'].mul_(beta1).add_(grad, alpha=1 - beta1)
                state['exp_avg_sq'].mul_(beta2).addcmul_(grad, grad.conj(), value=1 - beta2)
                v = state['exp_avg_sq']
                if self.amsgrad:
                    torch.maximum(state['max_exp_avg_sq'], v, out=state['max_exp_avg_sq'])
                    v = state['max_exp_avg_sq']
                p.addcdiv_(state['exp_avg'], v.sqrt().add_(group['eps']), value=-group['lr'])


def make_optimizer(params, optimizer, h):
    if not h.get('biasCorrection', True):
        return AdamWithoutBiasCorrection(params, lr=h['learningRate'], betas=(h['beta1'], h['beta2']), eps=h['epsilon'],
                                         weight_decay=h['weightDecay'], decoupled=optimizer == 'adamw', amsgrad=optimizer == 'amsgrad')
    if optimizer in ('adam', 'amsgrad'):
        return torch.optim.Adam(params, lr=h['learningRate'], betas=(h['beta1'], h['beta2']), eps=h['epsilon'],
                                weight_decay=h['weightDecay'], amsgrad=optimizer == 'amsgrad')
    if optimizer == 'adamw':
        return torch.optim.AdamW(params, lr=h['learningRate'], betas=(h['beta1'], h['beta2']), eps=h['epsilon'],
                                 weight_decay=h['weightDecay'])
    if optimizer == 'sgd':
        return torch.optim.SGD(params, lr=h['learningRate'], momentum=h['momentum'], weight_decay=h['weightDecay'],
                               nesterov=h.get('nesterov', False))
    if optimizer == 'rmsprop':
        return torch.optim.RMSprop(params, lr=h['learningRate'], alpha=h['alpha'], eps=h['epsilon'], weight_decay=h['weightDecay'],
                                   momentum=h['momentum'])
    raise UsageError('optimizer %r is not known to this script' % optimizer)


def set_hyperparameters(optimizer, name, h):
    for group in optimizer.param_groups:
        group['lr'] = h['learningRate']
        group['weight_decay'] = h['weightDecay']
        if name == 'sgd':
            group['momentum'] = h['momentum']
        elif name == 'rmsprop':
            group['alpha'], group['eps'], group['momentum'] = h['alpha'], h['epsilon'], h['momentum']
            # torch.optim.RMSprop makes its momentum buffer only when momentum > 0 at the first step; adam-trainer's
            # starts at zero whenever momentum is first turned on, so a zero buffer is what an edit to momentum > 0 finds.
            for state in optimizer.state.values():
                if 'square_avg' in state and 'momentum_buffer' not in state:
                    state['momentum_buffer'] = torch.zeros_like(state['square_avg'])
        else:
            group['betas'] = (h['beta1'], h['beta2'])
            group['eps'] = h['epsilon']


# The run's learning-rate schedule, mirroring sidecar/optim/schedule.ts (learningRateAt): the lr of optimizer step k
# (0-based) as PyTorch's StepLR, CosineAnnealingLR and OneCycleLR (cos, div_factor 25, final_div_factor 1e4, no
# momentum cycling) give it when stepped once per optimizer step, with warmup as SequentialLR of
# LinearLR(start_factor=1/(W+1), total_iters=W) then the schedule from step W. Their closed forms, so that an edit
# of the schedule mid-run (a new function from that step on) and a start from a checkpoint need no scheduler state.

SCHEDULE_DEFAULTS = {'schedule': 'constant', 'warmupSteps': 0, 'minLearningRate': 0.0, 'maxLearningRate': 0.01,
                     'stepSize': 1000, 'gamma': 0.1, 'pctStart': 0.3, 'scheduleSteps': 0}  # sidecar/protocol.ts's


def anneal_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def main_learning_rate(h, j, steps):
    kind = h['schedule']
    if kind == 'constant':
        return h['learningRate']
    if kind == 'step':
        return h['learningRate'] * math.pow(h['gamma'], j // h['stepSize'])
    if kind == 'cosine':
        k = min(j, steps)
        return h['minLearningRate'] + (h['learningRate'] - h['minLearningRate']) * (1 + math.cos(math.pi * k / steps)) / 2
    if kind == 'onecycle':
        initial = h['maxLearningRate'] / 25
        final = initial / 1e4
        up_end = h['pctStart'] * steps - 1
        k = min(j, steps - 1)
        if k <= up_end:
            return anneal_cos(initial, h['maxLearningRate'], k / up_end)
        return anneal_cos(h['maxLearningRate'], final, (k - up_end) / (steps - 1 - up_end))
    raise UsageError('schedule %r is not known to this script' % kind)


def learning_rate_at(h, k):
    w = h['warmupSteps']
    main = h['scheduleSteps'] - w
    if k < w:
        start = 1 / (w + 1)
        return main_learning_rate(h, 0, main) * (start + (1 - start) * k / w)
    return main_learning_rate(h, k - w, main)


def load_optimizer_state(optimizer, name, net, init, step):
    """A checkpoint's m, v (and AMSGrad's max v), SGD's momentum buffer, or RMSprop's square average and momentum
    buffer, at step t."""
    for pname, p in net.named_parameters():
        state = optimizer.state[p]
        if name == 'sgd':
            if 'optimizer/momentum_buffer/' + pname in init:
                state['momentum_buffer'] = torch.from_numpy(init['optimizer/momentum_buffer/' + pname]).to(p.device)
            continue
        if name == 'rmsprop':
            state['step'] = step
            state['square_avg'] = torch.from_numpy(init['optimizer/square_avg/' + pname]).to(p.device)
            state['momentum_buffer'] = torch.from_numpy(init['optimizer/momentum_buffer/' + pname]).to(p.device)
            continue
        state['step'] = torch.tensor(float(step))
        state['exp_avg'] = torch.from_numpy(init['optimizer/exp_avg/' + pname]).to(p.device)
        state['exp_avg_sq'] = torch.from_numpy(init['optimizer/exp_avg_sq/' + pname]).to(p.device)
        if name == 'amsgrad':
            state['max_exp_avg_sq'] = torch.from_numpy(init['optimizer/max_exp_avg_sq/' + pname]).to(p.device)


# ---------------------------------------------------------------------------------------------------
# --out RUN_DIR: a run folder adam-trainer reads (`adam-trainer runs`, the dashboard): config.json,
# events.jsonl (metrics, eval, applied and state lines), status.json and every step's loss in losses.f32.

class RunFolder:
    def __init__(self, folder, run_id, config, exported_from, fork_step):
        if os.path.exists(os.path.join(folder, 'config.json')):
            raise UsageError('%s is a run folder already; --out takes a new folder' % folder)
        os.makedirs(folder, exist_ok=True)
        self.folder, self.run_id = folder, run_id
        record = {'config': config, 'createdAt': now_iso(), 'origin': 'pytorch', 'exportedFrom': exported_from}
        if fork_step:  # from a checkpoint: the original run continued in PyTorch, a fork as adam-trainer shows forks
            record.update(parentRunId=exported_from, forkStep=fork_step)
        self.replace('config.json', json.dumps(record, indent=2) + '\n')
        self.events = open(os.path.join(folder, 'events.jsonl'), 'a')
        self.losses = open(os.path.join(folder, 'losses.f32'), 'ab')
        # losses.f32 holds step k's loss at index k - 1: a run that starts from a checkpoint pads the steps before it.
        self.losses.write(np.full(fork_step or 0, np.nan, dtype='<f4').tobytes())
        self.step, self.test_accuracy, self.state = fork_step or 0, None, 'idle'

    def replace(self, name, text):
        temp = os.path.join(self.folder, '.%s.%d.tmp' % (name, os.getpid()))
        with open(temp, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, os.path.join(self.folder, name))

    def event(self, message):
        self.events.write(json.dumps(message, separators=(',', ':')) + '\n')
        self.events.flush()
        self.step = message.get('step', self.step)
        if message['type'] == 'eval':
            self.test_accuracy = message['testAccuracy']
        if message['type'] in ('state', 'eval'):
            self.state = message['state'] if message['type'] == 'state' else self.state
            status = {'state': self.state, 'step': self.step, 'pid': os.getpid(), 'host': socket.gethostname(), 'updatedAt': now_iso()}
            if self.test_accuracy is not None:
                status['testAccuracy'] = self.test_accuracy
            self.replace('status.json', json.dumps(status) + '\n')

    def add_losses(self, losses):
        self.losses.write(np.asarray(losses, dtype='<f4').tobytes())
        self.losses.flush()


def now_iso():
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


# ---------------------------------------------------------------------------------------------------
# Metrics as adam-trainer's --json prints them.

class Window:
    """Steps since the last line: mean, min and max loss, accuracy, samples and training seconds."""

    def __init__(self, loss_sum=0.0, steps=0):
        self.loss_sum, self.steps = loss_sum, steps
        self.loss_min, self.loss_max, self.correct, self.samples, self.seconds = math.inf, -math.inf, 0, 0, 0.0

    def add(self, loss, correct, batch):
        self.loss_sum += loss
        self.loss_min, self.loss_max = min(self.loss_min, loss), max(self.loss_max, loss)
        self.correct += correct
        self.samples += batch
        self.steps += 1


def update_ratio(net, before, lr):
    """Per layer, the RMS of the step just taken divided by the learning rate (Adam's trust region)."""
    sums = {layer: [0.0, 0] for layer in LAYERS}
    for name, p in net.named_parameters():
        delta = (p.detach() - before[name]).double()
        sums[name.split('.')[0]][0] += float((delta * delta).sum())
        sums[name.split('.')[0]][1] += delta.numel()
    return {layer: math.sqrt(s / n) / lr for layer, (s, n) in sums.items()}


def parameters_sha256(net):
    digest = hashlib.sha256()
    for tensor in net.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().astype('<f4').tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------
# Processes: one, or DistributedDataParallel when a launcher set RANK and WORLD_SIZE.

class UsageError(Exception):
    pass


class Diverged(Exception):
    pass


def world_size():
    return int(os.environ['WORLD_SIZE']) if 'RANK' in os.environ and 'WORLD_SIZE' in os.environ else 1


def check_world_size(config, edits, world):
    """Each process takes an equal share of every global batch: every batch size of the run must divide."""
    sizes = sorted({config['batchSize']} | {c['batchSize'] for c in edits.values() if 'batchSize' in c})
    bad = [b for b in sizes if b % world]
    if bad:
        raise UsageError('batch size %d does not divide by the world size %d: each process takes an equal share of every '
                         'global batch; use a world size that divides %s' % (bad[0], world, ' and '.join(map(str, sizes))))


def start_processes():
    """(rank, world_size, device)."""
    if world_size() == 1:
        return 0, 1, torch.device('cpu')
    missing = [v for v in ('MASTER_ADDR', 'MASTER_PORT') if v not in os.environ]
    if missing:
        raise UsageError('RANK and WORLD_SIZE are set but %s %s not: set them (torchrun does)' % (' and '.join(missing), 'is' if len(missing) == 1 else 'are'))
    cuda = torch.cuda.is_available()
    dist.init_process_group('nccl' if cuda else 'gloo', init_method='env://')
    device = torch.device('cpu')
    if cuda:
        device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', '0')))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


# ---------------------------------------------------------------------------------------------------
# The run: adam-trainer's loop (sidecar/session.ts, trainer.ts) step for step.

class Experiment:
    def __init__(self, run, args):
        config, start = run['config'], run['start']
        self.args, self.name = args, config['optimizer']
        self.edits = {e['step']: e['changes'] for e in run['edits']}
        check_world_size(config, self.edits, world_size())  # before any process waits for the others
        self.rank, self.world, self.device = start_processes()
        self.lead = self.rank == 0

        self.train_x, self.train_y, self.test_x, self.test_y, self.source = load_dataset(args.data)
        self.n = len(self.train_y)
        for split, count, want in (('training', self.n, run['dataset'].get('trainCount')), ('test', len(self.test_y), run['dataset'].get('testCount'))):
            if want is not None and count != want:
                raise UsageError('the run trained on %d %s images and %s has %d: pass the run\'s dataset' % (want, split, args.data, count))

        init = read_safetensors(os.path.join(HERE, 'init.safetensors'))
        self.net = Net().to(self.device)
        self.net.load_state_dict({k: torch.from_numpy(v) for k, v in init.items() if '/' not in k})
        self.model = nn.parallel.DistributedDataParallel(self.net) if self.world > 1 else self.net
        self.h = {k: config[k] for k in ('learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'momentum', 'batchSize')}
        self.h.update(alpha=config.get('alpha', 0.99), biasCorrection=config.get('biasCorrection', True), nesterov=config.get('nesterov', False))
        self.h.update({k: config.get(k, d) for k, d in SCHEDULE_DEFAULTS.items()})
        if self.h['scheduleSteps'] == 0:  # "over the run": its planned length at its first batch size (schedule.ts plannedSteps)
            by_epochs = config['epochs'] * (self.n // config['batchSize'])
            self.h['scheduleSteps'] = min(config['maxSteps'], by_epochs) if config['maxSteps'] > 0 else by_epochs
        self.optimizer = make_optimizer(self.net.parameters(), self.name, self.h)
        if start['step'] > 0:
            load_optimizer_state(self.optimizer, self.name, self.net, init, start['step'])

        # The data cursor: the run's order from its first step, or the checkpoint's epoch, cursor and permutation.
        self.rng = Rng(state=start['rng'])
        self.order = init['data/permutation'].astype(np.int64) if 'data/permutation' in init else self.rng.permutation(self.n)
        if len(self.order) != self.n:
            raise UsageError('the run\'s data order covers %d training images and %s has %d' % (len(self.order), args.data, self.n))
        self.augment = config.get('augment', 'none') == 'flip-crop'
        if self.augment:
            self.codes = augment_codes(start['augmentSeed'] if 'data/permutation' in init else self.rng.next_u32(), self.n)
        self.step, self.epoch, self.cursor = start['step'], start['epoch'], start['cursor']

        self.run_id = os.path.basename(os.path.normpath(args.out)) if args.out else run['runId'] + '-pytorch'
        if args.out and not re.fullmatch(r'[A-Za-z0-9._-]+', self.run_id):
            raise UsageError('--out must end in a folder named like a run id (letters, digits, . _ -), got %r' % self.run_id)
        self.folder = None
        if self.lead and args.out:
            recorded = dict(config, data=os.path.abspath(args.data), epochs=args.epochs, maxSteps=args.max_steps, logEvery=args.log_every,
                            workers=min(self.world, 64))  # adam-trainer's worker count is 1..64; here, the processes
            self.folder = RunFolder(os.path.expanduser(args.out), self.run_id, recorded, run['runId'], start['step'])
            self.folder.event({'type': 'state', 'runId': self.run_id, 'state': 'running', 'step': self.step})

        # A resumed run's first log line averages from the previous one, as adam-trainer's does.
        self.log = Window(start.get('lossSum', 0.0), start.get('lossCount', 0))
        self.this_epoch, self.last_epoch = Window(), None
        self.pending = []  # this process's steps not yet summed over the processes (see flush)
        self.seconds, self.samples, self.last_eval = 0.0, 0, None

    def say(self, message):
        if self.lead and self.args.json:
            print(json.dumps(message, separators=(',', ':')), flush=True)
        if self.folder:
            self.folder.event(message)

    def finished(self):
        return self.epoch >= self.args.epochs or (self.args.max_steps > 0 and self.step >= self.args.max_steps)

    def run(self):
        if self.lead and not self.args.json:
            print('data: %s; %d process%s on %s' % (self.source, self.world, 'es' if self.world > 1 else '', self.device), file=sys.stderr)
        try:
            while not self.finished():
                self.train_step(self.step + 1)
            self.flush()
            if self.last_eval is None or self.last_eval['step'] != self.step:
                self.evaluate()
        except Diverged as e:
            if self.folder:
                self.folder.event({'type': 'state', 'runId': self.run_id, 'state': 'failed', 'reason': str(e), 'step': self.step})
            if self.lead:
                print('train.py: %s' % e, file=sys.stderr)
            return 1
        self.done()
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()
            # Every rank is past its last collective. What is left is freeing DDP's reducer and gloo's process group,
            # and that hung now and then as the run's objects were freed after run() returned (pytorch/pytorch#75097):
            # rank 0 gone, rank 1 waiting below main() for good; 1 job in 55 with a core busy, here. The run's files
            # are flushed at every write, so the process ends now, without those destructors.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return 0

    def apply_edits(self, t):
        """The run's edits take effect at the step they were applied at (the `applied` events' step)."""
        changes = self.edits.get(t)
        if not changes:
            return
        if self.folder:
            self.folder.event({'type': 'applied', 'runId': self.run_id, 'step': t, 'changes': {k: {'from': self.h[k], 'to': v} for k, v in changes.items()}})
        self.h.update(changes)
        set_hyperparameters(self.optimizer, self.name, self.h)

    def next_epoch(self):
        self.epoch, self.cursor, self.order = self.epoch + 1, 0, self.rng.permutation(self.n)
        if self.augment:
            self.codes = augment_codes(self.rng.next_u32(), self.n)

    def train_step(self, t):
        self.apply_edits(t)
        batch = self.h['batchSize']
        if self.n - self.cursor < batch:  # a larger batch edited in near the end of an epoch: the next epoch starts
            self.next_epoch()
            if self.finished():
                return
        # The global batch is the run's; this process takes its share of it.
        share = batch // self.world
        mine = self.order[self.cursor:self.cursor + batch][self.rank * share:(self.rank + 1) * share]
        images = self.train_x[mine]
        if self.augment:
            images = flip_crop(images, self.codes[self.cursor:self.cursor + batch][self.rank * share:(self.rank + 1) * share])
        x = normalise(images).to(self.device)
        y = torch.from_numpy(self.train_y[mine]).to(self.device)

        logged = t % self.args.log_every == 0 and self.lead
        began = time.perf_counter()
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)  # the mean over this share; DDP averages the shares' gradients
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        before = {k: p.detach().clone() for k, p in self.net.named_parameters()} if logged else None
        lr = learning_rate_at(self.h, t - 1)
        for group in self.optimizer.param_groups:
            group['lr'] = lr
        self.optimizer.step()
        elapsed = time.perf_counter() - began

        self.seconds += elapsed
        self.samples += batch
        self.log.seconds += elapsed
        self.pending.append({'step': t, 'batch': batch, 'lr': lr, 'loss_sum': float(loss) * len(mine),
                             'correct': int((logits.argmax(1) == y).sum()), 'ratio': update_ratio(self.net, before, lr) if logged else {}})
        self.step, self.cursor = t, self.cursor + batch
        epoch_ended = self.n - self.cursor < batch  # the incomplete last batch is dropped, as the tutorial's loop does
        if epoch_ended:
            self.next_epoch()
        if t % self.args.log_every == 0 or epoch_ended:
            self.flush()
        if epoch_ended:
            self.evaluate()
            self.last_epoch, self.this_epoch = self.this_epoch, Window()

    def flush(self):
        """Sums the pending steps' losses over the processes (one all_reduce), then logs them as adam-trainer does."""
        if not self.pending:
            return
        sums = torch.tensor([[p['loss_sum'], p['correct']] for p in self.pending], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(sums)
        losses = []
        for p, (loss_sum, correct) in zip(self.pending, sums.tolist()):
            loss = loss_sum / p['batch']
            if not math.isfinite(loss):
                raise Diverged('the training loss became %s at step %d' % (loss, p['step']))
            losses.append(loss)
            self.log.add(loss, int(correct), p['batch'])
            self.this_epoch.add(loss, int(correct), p['batch'])
            if p['step'] % self.args.log_every == 0:
                self.log_line(p)
        if self.folder:
            self.folder.add_losses(losses)
        self.pending.clear()

    def log_line(self, p):
        w = self.log
        line = {'type': 'metrics', 'runId': self.run_id, 'step': p['step'], 'epoch': self.epoch + self.cursor / self.n, 'samplesSeen': self.epoch * self.n + self.cursor,
                'loss': w.loss_sum / max(1, w.steps), 'lossMin': w.loss_min if w.steps else 0, 'lossMax': w.loss_max if w.steps else 0,
                'accuracy': w.correct / w.samples if w.samples else 0, 'learningRate': p['lr'],
                'samplesPerSec': w.samples / w.seconds if w.seconds > 0 else 0, 'updateRatio': p['ratio']}
        self.say(line)
        if self.lead and not self.args.json:
            print('step %7d  epoch %.2f  loss %.4f  acc %5.1f%%  %d samples/s' % (line['step'], line['epoch'], line['loss'], 100 * line['accuracy'], line['samplesPerSec']))
        self.log = Window()

    def evaluate(self):
        """Loss and accuracy on the whole test set, each process taking a share; adam-trainer's eval line."""
        self.net.eval()
        share = np.array_split(np.arange(len(self.test_y)), self.world)[self.rank]
        confusion = torch.zeros(10, 10, dtype=torch.float64)
        loss_sum = torch.zeros(1, dtype=torch.float64)
        with torch.no_grad():
            for chunk in np.array_split(share, max(1, math.ceil(len(share) / 1000))):
                logits = self.net(normalise(self.test_x[chunk]).to(self.device))
                labels = torch.from_numpy(self.test_y[chunk]).to(self.device)
                loss_sum += float(F.cross_entropy(logits, labels, reduction='sum'))
                confusion.index_put_((labels.cpu(), logits.argmax(1).cpu()), torch.ones(len(chunk), dtype=torch.float64), accumulate=True)
        self.net.train()
        if self.world > 1:
            dist.all_reduce(confusion)
            dist.all_reduce(loss_sum)
        rows, total = confusion.long().tolist(), len(self.test_y)
        self.last_eval = {'type': 'eval', 'runId': self.run_id, 'step': self.step, 'epoch': self.epoch + self.cursor / self.n,
                          'testLoss': float(loss_sum) / total, 'testAccuracy': sum(rows[c][c] for c in range(10)) / total,
                          'perClassAccuracy': [rows[c][c] / sum(rows[c]) if sum(rows[c]) else 0 for c in range(10)], 'confusion': rows}
        self.say(self.last_eval)
        if self.lead and not self.args.json:
            print('eval at step %d: test accuracy %.2f%%  test loss %.4f' % (self.step, 100 * self.last_eval['testAccuracy'], self.last_eval['testLoss']))

    def done(self):
        window = self.this_epoch if self.this_epoch.steps else self.last_epoch
        train_loss = window.loss_sum / window.steps if window and window.steps else None
        if self.folder:
            self.folder.event({'type': 'state', 'runId': self.run_id, 'state': 'done', 'step': self.step})
        if self.lead and self.args.json:
            print(json.dumps({'type': 'done', 'runId': self.run_id, 'steps': self.step, 'seconds': self.seconds,
                              'samplesPerSec': self.samples / self.seconds if self.seconds > 0 else 0, 'trainLoss': train_loss,
                              'testAccuracy': self.last_eval['testAccuracy'], 'parametersSha256': parameters_sha256(self.net)}, separators=(',', ':')), flush=True)
        elif self.lead:
            print('done: %d steps in %.1f s of training (%d samples/s), train loss %.4f, test accuracy %.2f%%'
                  % (self.step, self.seconds, self.samples / self.seconds if self.seconds > 0 else 0, train_loss or math.nan, 100 * self.last_eval['testAccuracy']))


# ---------------------------------------------------------------------------------------------------

def parse_args(run):
    parser = argparse.ArgumentParser(description='Reproduce adam-trainer run %s in PyTorch.' % run['runId'])
    parser.add_argument('--data', help='the CIFAR-10 binary layout or an image folder (train/<class>/, test/<class>/); default: the run\'s')
    parser.add_argument('--max-steps', type=int, default=run['config']['maxSteps'], help='stop after N steps in all, counted from the start of the run (0: no limit; default: the run\'s)')
    parser.add_argument('--epochs', type=int, default=run['config']['epochs'], help='passes over the training set (default: the run\'s)')
    parser.add_argument('--log-every', type=int, default=run['config']['logEvery'], help='steps per metrics line (default: the run\'s)')
    parser.add_argument('--json', action='store_true', help='JSON lines on stdout as adam-trainer train --json prints them: metrics, eval, done')
    parser.add_argument('--out', help='write a run folder adam-trainer reads (the folder\'s name is the run id), e.g. ~/.adam-trainer/runs/ID-pytorch')
    args = parser.parse_args()
    if args.data:
        args.data = os.path.expanduser(args.data)
    elif run['dataset'].get('path'):  # relative to this folder: an export made --with-data holds its data in data/
        args.data = os.path.join(HERE, run['dataset']['path'])
    else:
        parser.error('--data DIR is required: the dataset the run trained on')
    if args.max_steps < 0 or args.epochs < 1 or args.log_every < 1:
        parser.error('--max-steps must be >= 0, --epochs and --log-every >= 1')
    return args


def main():
    with open(os.path.join(HERE, 'run.json')) as f:
        run = json.load(f)
    args = parse_args(run)
    try:
        return Experiment(run, args).run()
    except UsageError as e:
        print('train.py: %s' % e, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
