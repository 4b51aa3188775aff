// Writes a PyTorch export (DESIGN.md `export-pytorch`): train.py (sidecar/pytorch/train.py with a summary of
// the run in its docstring), init.safetensors (the starting weights, and from a checkpoint the optimizer's
// state and this epoch's data order), run.json (configuration, edits, data order) and README.md.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Dataset, Split } from '../data';
import { BATCH_FOLDER, RECORD_BYTES, TEST_FILES, TRAIN_FILES } from '../data/binaryLayout';
import { UserError } from '../errors';
import { IMAGE_BYTES } from '../nn/spec';
import { writeFileAtomic } from '../store/checkpoint';
import { encodeTensors, parameterTensors, type NamedTensor } from '../store/safetensors';
import type { ExportPlan } from './plan';

export const EXPORT_FILES = ['train.py', 'init.safetensors', 'run.json', 'README.md'] as const;
export const RUN_JSON_FORMAT = 'adam-trainer/pytorch-export';

/** train.py as shipped: beside this file in the sources, in sidecar/pytorch/ above dist/ in a build or the .vsix. */
export function scriptTemplate(): string {
  for (const candidate of [join(__dirname, 'train.py'), resolve(__dirname, '..', 'sidecar', 'pytorch', 'train.py')]) {
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
  }
  throw new Error(`sidecar/pytorch/train.py not found near ${__dirname}`);
}

/** OUT_DIR must be new, empty, or an earlier export (whose four files are replaced). */
function prepareOutDir(outDir: string): void {
  if (existsSync(outDir)) {
    const entries = readdirSync(outDir);
    const earlier = entries.includes('run.json') && JSON.parse(readFileSync(join(outDir, 'run.json'), 'utf8'))?.format === RUN_JSON_FORMAT;
    if (entries.length && !earlier) throw new UserError('bad_path', `${outDir} is not empty: export into a new folder (or an earlier export, which is replaced)`);
  }
  mkdirSync(outDir, { recursive: true });
}

/** Writes the export; with `data`, also the run's decoded images (then train.py's default --data). */
export function writeExport(plan: ExportPlan, outDir: string, data?: Dataset): void {
  prepareOutDir(outDir);
  if (data) plan = { ...plan, dataset: { path: writeDataset(data, outDir), trainCount: data.train.count, testCount: data.test.count } };
  writeFileAtomic(join(outDir, 'train.py'), scriptTemplate().replace('@@RUN_SUMMARY@@', summary(plan)));
  writeFileAtomic(join(outDir, 'init.safetensors'), encodeTensors(initTensors(plan), { format: 'pt', runId: plan.runId, step: String(plan.start.step) }));
  writeFileAtomic(join(outDir, 'run.json'), JSON.stringify(runJson(plan), null, 2) + '\n');
  writeFileAtomic(join(outDir, 'README.md'), readme(plan));
}

/**
 * The images the run trained on, as adam-trainer decoded them, in CIFAR-10's binary layout under
 * OUT_DIR/data/cifar-10-batches-bin (the training set spread over the five batch files in order), so the
 * script reads exactly the run's pixels: Pillow's JPEG decoder differs from ours by a few levels.
 */
function writeDataset(dataset: Dataset, outDir: string): string {
  const folder = join(outDir, 'data', BATCH_FOLDER);
  mkdirSync(folder, { recursive: true });
  const perFile = Math.ceil(dataset.train.count / TRAIN_FILES.length);
  TRAIN_FILES.forEach((name, f) => writeFileAtomic(join(folder, name), records(dataset.train, f * perFile, Math.min(dataset.train.count, (f + 1) * perFile))));
  writeFileAtomic(join(folder, TEST_FILES[0]), records(dataset.test, 0, dataset.test.count));
  return join('data', BATCH_FOLDER);
}

function records(split: Split, from: number, to: number): Buffer {
  const out = Buffer.alloc(Math.max(0, to - from) * RECORD_BYTES);
  for (let i = from; i < to; i++) {
    const at = (i - from) * RECORD_BYTES;
    out[at] = split.labels[i];
    out.set(split.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), at + 1);
  }
  return out;
}

/** The weights under their state_dict names; from a checkpoint also optimizer/<state>/<name> and data/permutation. */
export function initTensors(plan: ExportPlan): NamedTensor[] {
  const tensors = parameterTensors(plan.params);
  const s = plan.optimizerState;
  if (s && plan.start.step > 0) {
    const o = plan.config.optimizer;
    if (o === 'sgd') tensors.push(...parameterTensors(s.m, 'optimizer/momentum_buffer/'));
    else if (o === 'rmsprop') tensors.push(...parameterTensors(s.v, 'optimizer/square_avg/'), ...parameterTensors(s.m, 'optimizer/momentum_buffer/'));
    else {
      tensors.push(...parameterTensors(s.m, 'optimizer/exp_avg/'), ...parameterTensors(s.v, 'optimizer/exp_avg_sq/'));
      if (o === 'amsgrad') tensors.push(...parameterTensors(s.vMax, 'optimizer/max_exp_avg_sq/'));
    }
  }
  if (plan.permutation) {
    const p = plan.permutation;
    tensors.push({ name: 'data/permutation', dtype: 'I32', shape: [p.length], data: new Int32Array(p.buffer, p.byteOffset, p.length) });
  }
  return tensors;
}

export function runJson(plan: ExportPlan): unknown {
  return {
    format: RUN_JSON_FORMAT,
    version: 1,
    runId: plan.runId,
    exportedAt: new Date().toISOString(),
    from: plan.from.kind === 'run' ? { kind: 'run' } : { kind: 'checkpoint', path: plan.from.path, step: plan.start.step },
    config: plan.config,
    // The step, epoch and cursor to start at; rng is the state of adam-trainer's data-order generator
    // (xoshiro128**, sidecar/rng.ts) from which the next epoch's permutation is drawn (this epoch's too
    // when starting at step 0; from a checkpoint, this epoch's order is data/permutation in init.safetensors).
    start: plan.start,
    edits: plan.edits,
    dataset: plan.dataset,
    original: plan.original,
  };
}

const FIELD_LABELS: Record<string, string> = {
  learningRate: 'lr', beta1: 'beta1', beta2: 'beta2', epsilon: 'eps', weightDecay: 'weight decay', momentum: 'momentum', alpha: 'alpha', batchSize: 'batch size',
};

function optimizerLine(c: ExportPlan['config']): string {
  if (!c.biasCorrection) {
    // torch.optim has no Adam without bias correction: train.py writes the rule out (AdamWithoutBiasCorrection).
    return `AdamWithoutBiasCorrection (defined in this script; torch.optim has none): ${c.optimizer}, lr ${c.learningRate}, betas (${c.beta1}, ${c.beta2}), eps ${c.epsilon}, weight decay ${c.weightDecay}`;
  }
  switch (c.optimizer) {
    case 'sgd':
      return `torch.optim.SGD: lr ${c.learningRate}, momentum ${c.momentum}${c.nesterov ? ', nesterov=True' : ''}, weight decay ${c.weightDecay}`;
    case 'rmsprop':
      return `torch.optim.RMSprop: lr ${c.learningRate}, alpha ${c.alpha}, eps ${c.epsilon}, momentum ${c.momentum}, weight decay ${c.weightDecay}`;
    case 'adamw':
      return `torch.optim.AdamW: lr ${c.learningRate}, betas (${c.beta1}, ${c.beta2}), eps ${c.epsilon}, weight decay ${c.weightDecay} (decoupled)`;
    default:
      return `torch.optim.Adam${c.optimizer === 'amsgrad' ? '(amsgrad=True)' : ''}: lr ${c.learningRate}, betas (${c.beta1}, ${c.beta2}), eps ${c.epsilon}, weight decay ${c.weightDecay} (L2)`;
  }
}

/** The run in a few lines, for train.py's docstring. */
export function summary(plan: ExportPlan): string {
  const c = plan.config;
  const lines = [
    plan.from.kind === 'run'
      ? `Run ${plan.runId}, from its first step.`
      : `Run ${plan.runId}, from its checkpoint at step ${plan.start.step} (epoch ${plan.start.epoch}, image ${plan.start.cursor} of the epoch's order).`,
    `  ${optimizerLine(c)}`,
    `  batch ${c.batchSize}, ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}${c.maxSteps > 0 ? `, at most ${c.maxSteps} steps` : ''}, seed ${c.seed}${c.augment !== 'none' ? `, augment ${c.augment}` : ''}`,
    `  data: ${plan.dataset.path ?? '(pass --data)'}`,
  ];
  if (plan.edits.length) {
    lines.push('  edits (the step they take effect at):');
    for (const e of plan.edits) lines.push(`    step ${e.step}: ${Object.entries(e.changes).map(([k, v]) => `${FIELD_LABELS[k] ?? k} ${v}`).join(', ')}`);
  } else lines.push('  no edits during the run');
  return lines.join('\n');
}

export function readme(plan: ExportPlan): string {
  const q = (s: string) => (/^[A-Za-z0-9_./:=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  // Data written beside the script (--with-data) is its default; elsewhere the run's folder is named.
  const path = plan.dataset.path;
  const data = path !== undefined && !isAbsolute(path) ? '' : ` --data ${q(path ?? '/path/to/cifar-10-batches-bin')}`;
  const c = plan.config;
  const divisors = [1, 2, 4, 8].filter((w) => [c.batchSize, ...plan.edits.flatMap((e) => (e.changes.batchSize ? [e.changes.batchSize] : []))].every((b) => b % w === 0));
  return `# Run ${plan.runId} in PyTorch

Exported by \`adam-trainer export-pytorch\`: the same network, ${plan.from.kind === 'run' ? 'initial weights' : `weights and optimizer state at step ${plan.start.step}`},
data order, optimizer and hyperparameter edits as the run, in one PyTorch script (numpy, and Pillow for
image folders).

${summary(plan).split('\n').map((l) => `    ${l}`).join('\n')}

| file | what |
| --- | --- |
| \`train.py\` | the experiment: the tutorial \`Net\`, the optimizer, the edits as changes of \`optimizer.param_groups\` at their steps, adam-trainer's data order |
| \`init.safetensors\` | ${plan.from.kind === 'run' ? 'the initial weights (adam-trainer draws them with its own generator, so a seed alone cannot give them to PyTorch)' : 'the weights, the optimizer state (`optimizer/<state>/<name>`) and the epoch\'s data order (`data/permutation`) at the checkpoint'} |
| \`run.json\` | the configuration, the edits and where the data order starts |

## Alone

    python train.py${data}

\`--max-steps N\` stops early, \`--log-every N\` sets the metrics interval, \`--json\` prints adam-trainer's JSON
lines (\`metrics\`, \`eval\`, \`done\`), and \`--out RUN_DIR\` writes a run folder adam-trainer reads, so the
PyTorch run is listed and overlaid beside the original:

    python train.py${data} --out ~/.adam-trainer/runs/${plan.runId}-pytorch
    adam-trainer runs

## On one machine, several processes (torchrun)

    torchrun --standalone --nproc_per_node ${divisors[divisors.length - 1]} train.py${data}

## On several machines

On each machine (node rank 0 on the one whose address is HOST):

    torchrun --nnodes 2 --node_rank 0 --nproc_per_node ${divisors[divisors.length - 1]} --master_addr HOST --master_port 29500 train.py${data}

Any launcher that sets \`RANK\`, \`WORLD_SIZE\`, \`MASTER_ADDR\` and \`MASTER_PORT\` (and \`LOCAL_RANK\` for GPUs) works
the same: each process takes an equal share of every global batch and DistributedDataParallel averages the
gradients (gloo on CPU, NCCL on CUDA), so the global batch and the trajectory stay the run's. The world size
must divide every batch size of the run (here ${divisors.join(', ')} do${divisors.length === 1 ? 'es' : ''}).
`;
}
