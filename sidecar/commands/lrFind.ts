// adam-trainer lr-find: the learning-rate range test (sidecar/lrFinder.ts) from the command line. Its own session:
// it never touches a run, running or not (--from only reads a checkpoint's weights).
import { UserError } from '../errors';
import { findLearningRate } from '../lrFinder';
import { LR_FIND_DEFAULTS, OPTIMIZERS, fieldError, lrFindFieldSchemas, lrRangeProblem, resolveConfig, type OptimizerName } from '../protocol';
import { defaultWorkers } from '../session';
import { readCheckpoint } from '../store/checkpoint';
import { adamTrainerHome, resolveUserPath } from '../store/paths';
import { parseFlags, type FlagSpec } from './args';

const HELP = `usage: adam-trainer lr-find [--optimizer adam|sgd|...] [--data DIR] [--min-lr 1e-7] [--max-lr 1] [--steps 300] [--from CKPT] [--json]

The learning-rate range test (Smith 2017; pytorch-lr-finder's rules): from a fresh net of the seed (or a
checkpoint's weights, with a fresh optimizer), one training step per lr, the lr raised exponentially from --min-lr
to --max-lr; the loss is smoothed (s = 0.05 loss + 0.95 s), the test stops when s passes 5x its lowest, and the
suggested lr is where the smoothed loss falls fastest (the first 10 and last 5 steps left out).
  --optimizer LIST     ${OPTIMIZERS.join(' | ')}, or several comma-separated, each tested in turn (default adam)
  --min-lr X, --max-lr X   the lr range, in (0, 10]                         (default 1e-7, 1)
  --steps N            steps of the test, 2..100000                          (default 300)
  --from CKPT          start from this checkpoint's weights (its data order is not used)
  --data DIR           as for train; default the cached download (the built-in sample when offline)
  --batch-size N, --seed N, --workers N, --cache-dir DIR    as for train (defaults 4, 0, the cores)
  --json               one {"type":"point","optimizer","step","learningRate","loss","smoothedLoss"} line a step, then
                       {"type":"suggestion","optimizer","learningRate","minLossLearningRate"}
`;

const FLAGS: Record<string, FlagSpec> = {
  optimizer: { kind: 'string' },
  data: { kind: 'string' },
  'min-lr': { kind: 'number', check: (v) => fieldMessage(lrFindFieldSchemas.minLearningRate, v) },
  'max-lr': { kind: 'number', check: (v) => fieldMessage(lrFindFieldSchemas.maxLearningRate, v) },
  steps: { kind: 'int', check: (v) => fieldMessage(lrFindFieldSchemas.steps, v) },
  from: { kind: 'string' },
  'batch-size': { kind: 'int', check: (v) => fieldError('batchSize', v) },
  seed: { kind: 'int', check: (v) => fieldError('seed', v) },
  workers: { kind: 'int', check: (v) => fieldError('workers', v) },
  'cache-dir': { kind: 'string' },
  json: { kind: 'boolean' },
  help: { kind: 'boolean' },
};

function fieldMessage(schema: (typeof lrFindFieldSchemas)[keyof typeof lrFindFieldSchemas], value: unknown): string | undefined {
  const r = schema.safeParse(value);
  return r.success ? undefined : `value ${r.error.issues[0]?.message ?? 'is invalid'}`;
}

function parseOptimizers(text: string): OptimizerName[] {
  const list = text.split(',').map((s) => s.trim());
  for (const o of list) if (!(OPTIMIZERS as readonly string[]).includes(o)) throw new UserError('bad_usage', `--optimizer must be one of ${OPTIMIZERS.join(', ')} (or several, comma-separated), got '${o}'`);
  if (new Set(list).size !== list.length) throw new UserError('bad_usage', `--optimizer names an optimizer twice: '${text}'`);
  return list as OptimizerName[];
}

export async function lrFindCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, FLAGS);
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const json = flags.json === true;
  const optimizers = parseOptimizers(String(flags.optimizer ?? 'adam'));
  const minLearningRate = (flags['min-lr'] as number | undefined) ?? LR_FIND_DEFAULTS.minLearningRate;
  const maxLearningRate = (flags['max-lr'] as number | undefined) ?? LR_FIND_DEFAULTS.maxLearningRate;
  const steps = (flags.steps as number | undefined) ?? LR_FIND_DEFAULTS.steps;
  const empty = lrRangeProblem(minLearningRate, maxLearningRate);
  if (empty) throw new UserError('bad_usage', `--min-lr ${minLearningRate} must be below --max-lr ${maxLearningRate}`);
  const cacheDir = resolveUserPath(String(flags['cache-dir'] ?? adamTrainerHome().cacheDir), '--cache-dir');
  const from = flags.from !== undefined ? readCheckpoint(resolveUserPath(String(flags.from), '--from')) : undefined;
  const data = flags.data === undefined ? undefined : String(flags.data) === 'sample' ? 'sample' : resolveUserPath(String(flags.data), '--data');
  const config = resolveConfig({
    ...(from ? { data: from.config.data, batchSize: from.config.batchSize, seed: from.config.seed } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(flags['batch-size'] !== undefined ? { batchSize: flags['batch-size'] as number } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed as number } : {}),
    ...(flags.workers !== undefined ? { workers: flags.workers as number } : {}),
  }, defaultWorkers());
  const out = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
  const notice = (line: string) => process.stderr.write(line + '\n');
  for (const optimizer of optimizers) {
    const r = await findLearningRate({ optimizer, config, minLearningRate, maxLearningRate, steps, from, cacheDir, notice }, (p) => {
      if (json) out({ type: 'point', optimizer, step: p.step, learningRate: p.learningRate, loss: p.loss, smoothedLoss: p.smoothedLoss });
      else if (p.step % 25 === 0 || p.step === 1) process.stdout.write(`${optimizer}  step ${String(p.step).padStart(5)}  lr ${p.learningRate.toExponential(3)}  loss ${p.loss.toFixed(4)}  smoothed ${p.smoothedLoss.toFixed(4)}\n`);
    });
    if (json) out({ type: 'suggestion', optimizer, learningRate: r.learningRate, minLossLearningRate: r.minLossLearningRate });
    else {
      const end = r.diverged ? `the loss diverged at step ${r.points.length} (lr ${r.points[r.points.length - 1].learningRate.toExponential(3)})` : `no divergence within ${steps} steps`;
      const suggestion = r.learningRate === null ? 'too few steps to suggest an lr' : `suggested lr ${r.learningRate.toExponential(3)} (steepest descent of the smoothed loss)`;
      process.stdout.write(`${optimizer}: ${end}; ${suggestion}; lowest loss at lr ${r.minLossLearningRate.toExponential(3)}\n`);
    }
  }
  return 0;
}
