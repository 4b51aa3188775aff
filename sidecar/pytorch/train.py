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

def make_optimizer(params, optimizer, h):
    if optimizer in ('adam', 'amsgrad'):
        return torch.optim.Adam(params, lr=h['learningRate'], betas=(h['beta1'], h['beta2']), eps=h['epsilon'],
                                weight_decay=h['weightDecay'], amsgrad=optimizer == 'amsgrad')
    if optimizer == 'adamw':
        return torch.optim.AdamW(params, lr=h['learningRate'], betas=(h['beta1'], h['beta2']), eps=h['epsilon'],
                                 weight_decay=h['weightDecay'])
    if optimizer == 'sgd':
        return torch.optim.SGD(params, lr=h['learningRate'], momentum=h['momentum'], weight_decay=h['weightDecay'])
    raise UsageError('optimizer %r is not known to this script' % optimizer)


def set_hyperparameters(optimizer, name, h):
    for group in optimizer.param_groups:
        group['lr'] = h['learningRate']
        group['weight_decay'] = h['weightDecay']
        if name == 'sgd':
            group['momentum'] = h['momentum']
        else:
            group['betas'] = (h['beta1'], h['beta2'])
            group['eps'] = h['epsilon']


def load_optimizer_state(optimizer, name, net, init, step):
    """A checkpoint's m, v (and AMSGrad's max v, or SGD's momentum buffer) at Adam's step t."""
    for pname, p in net.named_parameters():
        state = optimizer.state[p]
        if name == 'sgd':
            if 'optimizer/momentum_buffer/' + pname in init:
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
    def __init__(self, folder, run_id, config, parent_run_id, fork_step):
        if os.path.exists(os.path.join(folder, 'config.json')):
            raise UsageError('%s is a run folder already; --out takes a new folder' % folder)
        os.makedirs(folder, exist_ok=True)
        self.folder, self.run_id = folder, run_id
        record = {'config': config, 'createdAt': now_iso(), 'origin': 'pytorch'}
        if parent_run_id is not None:
            record.update(parentRunId=parent_run_id, forkStep=fork_step)
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
            status = {'state': self.state, 'step': self.step, 'pid': os.getpid(), 'host': os.uname().nodename, 'updatedAt': now_iso()}
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

class UsageError(Exception):
    pass


def world_size():
    return int(os.environ['WORLD_SIZE']) if 'RANK' in os.environ and 'WORLD_SIZE' in os.environ else 1


def distributed():
    """(rank, world_size, device): DDP when a launcher set RANK and WORLD_SIZE, one process otherwise."""
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


def parse_args(run):
    parser = argparse.ArgumentParser(description='Reproduce adam-trainer run %s in PyTorch.' % run['runId'])
    parser.add_argument('--data', help='the CIFAR-10 binary layout or an image folder (train/<class>/, test/<class>/); default: the run\'s (%s)' % run['dataset'].get('path'))
    parser.add_argument('--max-steps', type=int, default=run['config']['maxSteps'], help='stop after N steps in all, counted from the start of the run (0: no limit; default: the run\'s)')
    parser.add_argument('--epochs', type=int, default=run['config']['epochs'], help='passes over the training set (default: the run\'s)')
    parser.add_argument('--log-every', type=int, default=run['config']['logEvery'], help='steps per metrics line (default: the run\'s)')
    parser.add_argument('--json', action='store_true', help='JSON lines on stdout as adam-trainer train --json prints them: metrics, eval, done')
    parser.add_argument('--out', help='write a run folder adam-trainer reads (its name is the run id), e.g. ~/.adam-trainer/runs/%s-pytorch' % run['runId'])
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
        return train(run, args)
    except UsageError as e:
        print('train.py: %s' % e, file=sys.stderr)
        return 2


def train(run, args):
    config, start = run['config'], run['start']
    name = config['optimizer']
    edits = {e['step']: e['changes'] for e in run['edits']}
    # Each process takes an equal share of every global batch, so every batch size of the run must divide
    # (checked before any process waits for the others).
    world = world_size()
    sizes = sorted({config['batchSize']} | {c['batchSize'] for c in edits.values() if 'batchSize' in c})
    bad = [b for b in sizes if b % world]
    if bad:
        raise UsageError('batch size %s does not divide by the world size %d: each process takes an equal share of every '
                         'global batch; use a world size that divides %s' % (bad[0], world, ' and '.join(map(str, sizes))))
    rank, world, device = distributed()
    lead = rank == 0

    train_x, train_y, test_x, test_y, source = load_dataset(args.data)
    n = len(train_y)
    for split, count, want in (('training', n, run['dataset'].get('trainCount')), ('test', len(test_y), run['dataset'].get('testCount'))):
        if want is not None and count != want:
            raise UsageError('the run trained on %d %s images and %s has %d: pass the run\'s dataset' % (want, split, args.data, count))

    init = read_safetensors(os.path.join(HERE, 'init.safetensors'))
    net = Net().to(device)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in init.items() if '/' not in k})
    model = nn.parallel.DistributedDataParallel(net) if world > 1 else net
    h = {k: config[k] for k in ('learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'momentum', 'batchSize')}
    optimizer = make_optimizer(net.parameters(), name, h)
    if start['step'] > 0:
        load_optimizer_state(optimizer, name, net, init, start['step'])

    # The data cursor: the run's order from its first step, or the checkpoint's epoch, cursor and permutation.
    rng = Rng(state=start['rng'])
    order = init['data/permutation'].astype(np.int64) if 'data/permutation' in init else rng.permutation(n)
    if len(order) != n:
        raise UsageError('the run\'s data order covers %d training images and %s has %d' % (len(order), args.data, n))
    step, epoch, cursor = start['step'], start['epoch'], start['cursor']

    run_id = os.path.basename(os.path.normpath(args.out)) if args.out else run['runId'] + '-pytorch'
    if args.out and not re.fullmatch(r'[A-Za-z0-9._-]+', run_id):
        raise UsageError('--out must end in a folder named like a run id (letters, digits, . _ -), got %r' % run_id)
    folder = None
    if lead and args.out:
        folder = RunFolder(os.path.expanduser(args.out), run_id, dict(config, workers=world, data=os.path.abspath(args.data), epochs=args.epochs, maxSteps=args.max_steps, logEvery=args.log_every), run['runId'], start['step'])
        folder.event({'type': 'state', 'runId': run_id, 'state': 'running', 'step': step})

    def say(message):
        if lead and args.json:
            print(json.dumps(message, separators=(',', ':')), flush=True)

    if lead and not args.json:
        print('data: %s; %d process%s on %s' % (source, world, 'es' if world > 1 else '', device), file=sys.stderr)

    log, live_epoch, done_epoch = Window(start.get('lossSum', 0.0), start.get('lossCount', 0)), Window(), None
    pending = []  # (step, batch, lr, local loss sum, local correct) not yet summed over the processes
    seconds, samples, last_eval_step, last_eval = 0.0, 0, -1, None

    def flush():
        """Sums the pending steps' losses over the processes, then logs them as the run would."""
        nonlocal log
        if not pending:
            return
        sums = torch.tensor([[p[3], p[4]] for p in pending], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(sums)
        losses = []
        for (s, batch, lr, _, _, ratio), (loss_sum, correct) in zip(pending, sums.tolist()):
            loss = loss_sum / batch
            if not math.isfinite(loss):
                raise Diverged('the training loss became %s at step %d' % (loss, s))
            losses.append(loss)
            log.add(loss, int(correct), batch)
            live_epoch.add(loss, int(correct), batch)
            if s % args.log_every == 0:
                line = {'type': 'metrics', 'runId': run_id, 'step': s, 'epoch': epoch + cursor / n, 'samplesSeen': epoch * n + cursor,
                        'loss': log.loss_sum / max(1, log.steps), 'lossMin': log.loss_min if log.steps else 0, 'lossMax': log.loss_max if log.steps else 0,
                        'accuracy': log.correct / log.samples if log.samples else 0, 'learningRate': lr,
                        'samplesPerSec': log.samples / log.seconds if log.seconds > 0 else 0, 'updateRatio': ratio or {}}
                say(line)
                if folder:
                    folder.event(line)
                if not args.json and lead:
                    print('step %7d  epoch %.2f  loss %.4f  acc %5.1f%%  %d samples/s' % (s, line['epoch'], line['loss'], 100 * line['accuracy'], line['samplesPerSec']))
                log = Window()
        if folder:
            folder.add_losses(losses)
        pending.clear()

    def evaluate():
        """Loss and accuracy on the whole test set, each process taking a share; like adam-trainer's eval line."""
        nonlocal last_eval_step, last_eval
        net.eval()
        share = np.array_split(np.arange(len(test_y)), world)[rank]
        confusion = torch.zeros(10, 10, dtype=torch.float64)
        loss_sum = torch.zeros(1, dtype=torch.float64)
        with torch.no_grad():
            for chunk in np.array_split(share, max(1, math.ceil(len(share) / 1000))):
                logits = net(normalise(test_x[chunk]).to(device))
                labels = torch.from_numpy(test_y[chunk]).to(device)
                loss_sum += float(F.cross_entropy(logits, labels, reduction='sum'))
                confusion.index_put_((labels.cpu(), logits.argmax(1).cpu()), torch.ones(len(chunk), dtype=torch.float64), accumulate=True)
        net.train()
        if world > 1:
            dist.all_reduce(confusion)
            dist.all_reduce(loss_sum)
        rows = confusion.long().tolist()
        total = len(test_y)
        message = {'type': 'eval', 'runId': run_id, 'step': step, 'epoch': epoch + cursor / n, 'testLoss': float(loss_sum) / total,
                   'testAccuracy': sum(rows[c][c] for c in range(10)) / total,
                   'perClassAccuracy': [rows[c][c] / sum(rows[c]) if sum(rows[c]) else 0 for c in range(10)], 'confusion': rows}
        say(message)
        if folder:
            folder.event(message)
        if lead and not args.json:
            print('eval at step %d: test accuracy %.2f%%  test loss %.4f' % (step, 100 * message['testAccuracy'], message['testLoss']))
        last_eval_step, last_eval = step, message

    try:
        while epoch < args.epochs and not (args.max_steps > 0 and step >= args.max_steps):
            t = step + 1
            # The run's edits take effect at the step they were applied at (the `applied` events' step).
            if t in edits:
                changes = edits[t]
                if folder:
                    folder.event({'type': 'applied', 'runId': run_id, 'step': t, 'changes': {k: {'from': h[k], 'to': v} for k, v in changes.items()}})
                h.update(changes)
                set_hyperparameters(optimizer, name, h)
            batch = h['batchSize']
            if n - cursor < batch:  # a larger batch edited in near the end of an epoch: the next epoch starts
                epoch, cursor, order = epoch + 1, 0, rng.permutation(n)
                if epoch >= args.epochs:
                    break
            indices = order[cursor:cursor + batch]
            share = batch // world
            mine = indices[rank * share:(rank + 1) * share]
            x = normalise(train_x[mine]).to(device)
            y = torch.from_numpy(train_y[mine]).to(device)

            began = time.perf_counter()
            logits = model(x)
            loss = F.cross_entropy(logits, y)  # the mean over this share; DDP averages the shares' gradients
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            logged = t % args.log_every == 0 and lead
            before = {k: p.detach().clone() for k, p in net.named_parameters()} if logged else None
            optimizer.step()
            elapsed = time.perf_counter() - began
            ratio = update_ratio(net, before, h['learningRate']) if logged else None

            seconds += elapsed
            samples += batch
            log.seconds += elapsed
            pending.append((t, batch, h['learningRate'], float(loss) * len(mine), int((logits.argmax(1) == y).sum()), ratio))
            step, cursor = t, cursor + batch
            epoch_ended = n - cursor < batch  # the incomplete last batch is dropped, as the tutorial's loop does
            if epoch_ended:
                epoch, cursor, order = epoch + 1, 0, rng.permutation(n)
            if t % args.log_every == 0 or epoch_ended:
                flush()
            if epoch_ended:
                evaluate()
                done_epoch, live_epoch = live_epoch, Window()
        flush()
        if last_eval_step != step:
            evaluate()
    except Diverged as e:
        if folder:
            folder.event({'type': 'state', 'runId': run_id, 'state': 'failed', 'reason': str(e), 'step': step})
        if lead:
            print('train.py: %s' % e, file=sys.stderr)
        return 1

    window = live_epoch if live_epoch.steps else done_epoch
    done = {'type': 'done', 'runId': run_id, 'steps': step, 'seconds': seconds, 'samplesPerSec': samples / seconds if seconds > 0 else 0,
            'trainLoss': window.loss_sum / window.steps if window and window.steps else None,
            'testAccuracy': last_eval['testAccuracy'], 'parametersSha256': parameters_sha256(net)}
    if folder:
        folder.event({'type': 'state', 'runId': run_id, 'state': 'done', 'step': step})
    say(done)
    if lead and not args.json:
        print('done: %d steps in %.1f s of training (%d samples/s), train loss %.4f, test accuracy %.2f%%'
              % (step, seconds, done['samplesPerSec'], done['trainLoss'] or math.nan, 100 * done['testAccuracy']))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


class Diverged(Exception):
    pass


if __name__ == '__main__':
    sys.exit(main())
