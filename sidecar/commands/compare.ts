// adam-trainer compare: the seed's experiment over seeds (DESIGN.md "Added with the second round of work").
// One run per optimizer cannot say whether Adam beats SGD; this trains every (optimizer, seed) pair, side by
// side as the cores allow, and prints each result and then the statistics (stats.ts): per optimizer the
// mean, sample std and 95% interval, and the difference paired by seed with the verdict in words.
// The runs land in the runs folder like any other, each recording its group.
import { UserError } from '../errors';
import { comparisonJobs, concurrentRuns, newGroup, runJobs, type ComparisonJob } from '../comparison';
import { COMPARED_OPTIMIZERS, MAX_COMPARE_SEEDS, fieldError, resolveConfig, type ComparedOptimizer, type RunGroup, type StartConfig } from '../protocol';
import { isComparedOptimizer, variantFields } from '../optim/variants';
import { compareResults, type ComparisonSummary } from '../stats';
import { adamTrainerHome, newRunId, resolveUserPath } from '../store/paths';
import { cleanAbandonedWrites } from '../store/checkpoint';
import { RunStore } from '../store/runs';
import { Run, type RunSummaryDone } from '../trainer';
import { parseFlags, type FlagSpec } from './args';
import { ProgressBar, resultsTable } from './compareOutput';

const HELP = `usage: adam-trainer compare [--optimizers adam,sgd] [--seeds 1-10] [--epochs N] [--batch-size N] [--data DIR|sample] [--json]

Trains the seed's experiment once for every (optimizer, seed) pair, as many runs at a time as the cores allow
(one worker thread each), and says whether the first optimizer beats the second: per optimizer the mean test
accuracy, its standard deviation and 95% confidence interval, and the difference paired by seed.
  --optimizers A,B     comma-separated, each one of (default adam,sgd)
                       ${COMPARED_OPTIMIZERS.join(' | ')}
  --seeds LIST         a range 1-10, a list 1,2,5, or one seed 3              (default 1-10)
  --epochs N           (default 2)        --batch-size N   1..1024 (default 4)
  --max-steps N        stop each run after N steps (default: no limit)
  --workers N          worker threads per run (default 1; runs at a time = cores / N)
  --data DIR           as for train; default the cached download (the built-in sample when offline)
  --runs-dir DIR, --cache-dir DIR    as for train
  --json               one {"type":"result",...} line per run, then {"type":"summary",...}
`;

const check = (field: 'epochs' | 'batchSize' | 'maxSteps' | 'workers') => (v: number | string) => fieldError(field, v);

const FLAGS: Record<string, FlagSpec> = {
  optimizers: { kind: 'string' },
  seeds: { kind: 'string' },
  epochs: { kind: 'int', check: check('epochs') },
  'batch-size': { kind: 'int', check: check('batchSize') },
  'max-steps': { kind: 'int', check: check('maxSteps') },
  workers: { kind: 'int', check: check('workers') },
  data: { kind: 'string' },
  'runs-dir': { kind: 'string' },
  'cache-dir': { kind: 'string' },
  json: { kind: 'boolean' },
  help: { kind: 'boolean' },
};

/** `1-10`, `1,2,5` or `3` (also mixed: `1-3,7`): the seeds in the order given, each once. */
export function parseSeeds(text: string): number[] {
  const bad = (why: string) => new UserError('bad_usage', `--seeds ${why}; give a range 1-10, a list 1,2,5 or one seed 3, got '${text}'`);
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw bad('must be seeds (integers in 0..4294967295)');
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (fieldError('seed', lo) || fieldError('seed', hi)) throw bad('must be integers in 0..4294967295');
    if (hi < lo) throw bad(`must be an increasing range (${lo}-${hi} is empty)`);
    if (seeds.length + hi - lo + 1 > MAX_COMPARE_SEEDS) throw bad(`must hold at most ${MAX_COMPARE_SEEDS} seeds`);
    for (let s = lo; s <= hi; s++) seeds.push(s);
  }
  if (new Set(seeds).size !== seeds.length) throw bad('must not repeat a seed');
  return seeds;
}

/** `adam,sgd,sgd-nesterov`: known optimizers and variants (optim/variants.ts), each once. */
export function parseOptimizers(text: string): ComparedOptimizer[] {
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!isComparedOptimizer(name)) {
      throw new UserError('bad_usage', `--optimizers must be a comma-separated list of ${COMPARED_OPTIMIZERS.join(', ')}, got '${name}' in '${text}'`);
    }
  }
  if (new Set(names).size !== names.length) throw new UserError('bad_usage', `--optimizers must not name an optimizer twice, got '${text}'`);
  return names;
}

export interface ResultLine {
  type: 'result';
  optimizer: ComparedOptimizer;
  seed: number;
  testAccuracy: number;
  trainLoss: number;
  steps: number;
  seconds: number;
  runId: string;
}

export async function compareCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, FLAGS);
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const optimizers = parseOptimizers(String(flags.optimizers ?? 'adam,sgd'));
  const seeds = parseSeeds(String(flags.seeds ?? '1-10'));
  const json = flags.json === true;
  const home = adamTrainerHome();
  const runsDir = resolveUserPath(String(flags['runs-dir'] ?? home.runsDir), '--runs-dir');
  const cacheDir = resolveUserPath(String(flags['cache-dir'] ?? home.cacheDir), '--cache-dir');
  const notice = (line: string) => process.stderr.write(line + '\n');

  const base: StartConfig = { workers: (flags.workers as number | undefined) ?? 1 };
  if (flags.data !== undefined) base.data = String(flags.data) === 'sample' ? 'sample' : resolveUserPath(String(flags.data), '--data');
  if (flags.epochs !== undefined) base.epochs = flags.epochs as number;
  if (flags['batch-size'] !== undefined) base.batchSize = flags['batch-size'] as number;
  if (flags['max-steps'] !== undefined) base.maxSteps = flags['max-steps'] as number;
  // Few metrics lines are needed: nobody reads them live here, but the runs folder keeps them.
  base.checkpointEvery = 1_000_000;

  const group = newGroup(optimizers, seeds);
  const jobs = comparisonJobs(optimizers, seeds);
  const concurrency = Math.min(jobs.length, concurrentRuns(base.workers!));
  const store = new RunStore(runsDir);
  for (const path of await cleanAbandonedWrites(runsDir)) notice(`removed ${path}, left by a write that was killed`);
  const out = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
  const bar = json ? null : new ProgressBar(jobs.length, process.stderr);
  if (!json) notice(`comparing ${optimizers.join(', ')} over ${seeds.length} seed${seeds.length > 1 ? 's' : ''}: ${jobs.length} runs, ${concurrency} at a time (${base.workers} worker${base.workers! > 1 ? 's' : ''} each), group ${group.id}`);

  const live = new Set<Run>();
  let interrupted = false;
  let datasetNoticed = false;
  const results: ResultLine[] = [];
  const failures: string[] = [];
  const t0 = performance.now();

  const startJob = (job: ComparisonJob) => {
    const runId = newRunId();
    const config = resolveConfig({ ...base, ...variantFields(job.optimizer), seed: job.seed }, base.workers!);
    store.createRun(runId, config, undefined, group);
    const run = new Run({ runId, config, cacheDir, store, notice: (line) => { if (!datasetNoticed) notice(line); } });
    live.add(run);
    let diverged: string | null = null;
    let ready!: () => void;
    const readyPromise = new Promise<void>((r) => (ready = r));
    run.on('dataset', (source: string) => {
      if (!datasetNoticed && !json) notice(`data: ${source}`);
      datasetNoticed = true;
      ready();
    });
    run.on('metrics', (m) => bar?.progress(runId, `${job.optimizer} seed ${job.seed}`, progressOf(m, config.epochs, config.maxSteps)));
    run.on('state', (s) => {
      // Headless, nobody can resume a run that paused on a NaN loss: stop it after its checkpoint; it fails.
      if (s.state === 'paused' && s.reason) {
        diverged = s.reason;
        void run.stop();
      }
    });
    const done = run.start().then(
      (summary: RunSummaryDone) => {
        if (diverged || run.state !== 'done') throw new Error(diverged ?? `run ${runId} ${run.state}`);
        const line: ResultLine = {
          type: 'result', optimizer: job.optimizer, seed: job.seed, testAccuracy: summary.testAccuracy, trainLoss: summary.trainLoss,
          steps: summary.steps, seconds: summary.seconds, runId,
        };
        results.push(line);
        bar?.finished(runId, `${job.optimizer} seed ${job.seed}: ${(100 * summary.testAccuracy).toFixed(2)}%`);
        if (json) out(line);
        return line;
      },
    ).catch((e: unknown) => {
      ready();
      const message = (e as Error)?.message ?? String(e);
      if (!(interrupted && run.state === 'stopped')) {
        failures.push(`${job.optimizer} seed ${job.seed} (run ${runId}): ${message}`);
        bar?.finished(runId, `${job.optimizer} seed ${job.seed}: failed`);
        if (!bar) notice(`adam-trainer compare: ${job.optimizer} seed ${job.seed} (run ${runId}) failed: ${message}`);
      }
      throw e;
    }).finally(() => {
      live.delete(run);
      store.close(runId);
    });
    return { ready: readyPromise, done };
  };

  // Ctrl-C (or SIGTERM) stops the runs after their checkpoints and starts no more; a second one exits at once.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    interrupted = true;
    notice(`${sig}: stopping the ${live.size} running run${live.size === 1 ? '' : 's'} after a checkpoint...`);
    for (const run of live) void run.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runJobs(jobs, concurrency, startJob, () => !interrupted);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    bar?.end();
  }

  const seconds = (performance.now() - t0) / 1000;
  const summary = compareResults(results, optimizers);
  if (json) out(summaryLine(summary, group, seconds));
  else {
    if (results.length) process.stdout.write(resultsTable(results, summary, optimizers, seeds) + '\n');
    process.stdout.write(`${summary.verdict}.\n${results.length} runs in ${formatSeconds(seconds)}; group ${group.id} in ${store.root}\n`);
  }
  if (interrupted) {
    notice(`adam-trainer compare: interrupted; ${results.length} of ${jobs.length} runs finished`);
    return 1;
  }
  if (failures.length) {
    if (bar) for (const f of failures) notice(`adam-trainer compare: failed: ${f}`);
    return 1;
  }
  return 0;
}

/** The last line of `--json`: the statistics (accuracies as fractions), the verdict, the group and wall time. */
export function summaryLine(summary: ComparisonSummary, group: RunGroup, seconds: number): Record<string, unknown> {
  const { difference } = summary;
  return {
    type: 'summary',
    optimizers: summary.optimizers,
    ...(difference ? { difference: { a: difference.a, b: difference.b, n: difference.n, mean: difference.mean, std: difference.std, ci95: difference.ci95, seeds: difference.seeds } } : {}),
    verdict: summary.verdict,
    group: group.id,
    seconds,
  };
}

/** How far a run is, 0..1, from its metrics: epochs done, or steps of --max-steps when that comes first. */
function progressOf(m: { epoch: number; step: number }, epochs: number, maxSteps: number): number {
  const byEpoch = m.epoch / epochs;
  return Math.min(1, maxSteps > 0 ? Math.max(byEpoch, m.step / maxSteps) : byEpoch);
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}
