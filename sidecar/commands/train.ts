// adam-trainer train: the seed's experiment from the command line (DESIGN.md "Command line").
// A readable progress line on a terminal; with --json, JSON lines only on stdout (notices on stderr).
import { UserError } from '../errors';
import { variantError } from '../optim/hyperparameters';
import { chooseWorkers, fewerWorkersNote, workersFromEnv } from '../parallel/freeCores';
import { configFieldSchemas, fieldError, resolveConfig, type LiveHyperparameters, type RunConfig, type ScheduleField, type StartConfig } from '../protocol';
import { defaultWorkers } from '../session';
import { cleanAbandonedWrites, readCheckpoint } from '../store/checkpoint';
import { adamTrainerHome, newRunId, resolveUserPath } from '../store/paths';
import { RunStore } from '../store/runs';
import { Run, type RunSummaryDone } from '../trainer';
import { checkCheckpointOfRun, resumedConfig } from '../resume';
import { parseFlags, type FlagSpec } from './args';
import { startDashboard, type Dashboard } from './dashboardHook';
import { VARIANT_FLAGS, VARIANT_HELP, flagOf, variantConfig } from './variantFlags';

export const TRAIN_HELP = `usage: adam-trainer train [flags]

  --data DIR             CIFAR-10 binary layout or image folder (train/<class>/*, test/<class>/*), or "sample";
                         default: the cached download (the built-in sample when offline)
  --optimizer NAME       adam | adamw | amsgrad | sgd | rmsprop  (default adam)
  --lr X                 learning rate in (0, 1]                  (default 0.001)
  --beta1 X, --beta2 X   Adam's decay rates in [0, 1)             (default 0.9, 0.999)
  --eps X                Adam's epsilon > 0                       (default 1e-8)
  --weight-decay X       >= 0                                     (default 0; AdamW 0.01)
  --momentum X           SGD, RMSprop momentum in [0, 1)          (default 0.9; RMSprop 0)
${VARIANT_HELP}  --batch-size N         1..1024                                  (default 4)
  --epochs N             (default 2)        --max-steps N   stop after N steps in all (default: no limit)
  --workers N            worker threads (default: $ADAM_TRAINER_WORKERS, else one per core that other programs leave
                         free at the start)
  --seed N               (default 0)        --log-every N   steps per progress line (default 100)
  --checkpoint-dir DIR   (default: the run's folder)    --checkpoint-every N   (default 1000)
  --schedule NAME        lr schedule: constant | step | cosine | onecycle, counted in steps as PyTorch's
                         StepLR, CosineAnnealingLR, OneCycleLR (default constant)
  --warmup-steps N       linear warmup to the schedule's first lr (LinearLR then SequentialLR; default 0)
  --min-lr X             cosine: the lr at the end of the run (default 0)
  --max-lr X             onecycle: the peak lr, from X/25 up and down to X/25/1e4 (default 0.01)
  --step-size N, --gamma X   step: lr * gamma every N steps (default 1000, 0.1)
  --pct-start X          onecycle: the part of the run spent rising (default 0.3)
  --schedule-steps N     the steps the schedule is planned over (default: the run's, from --epochs/--max-steps)
  --resume FILE          continue the run in a checkpoint
  --runs-dir DIR         (default ~/.adam-trainer/runs) --cache-dir DIR (default ~/.cache/adam-trainer)
  --dashboard            serve the live dashboard and print its URL
  --json                 JSON lines on stdout: metrics, eval, done
`;

const check = (field: keyof typeof configFieldSchemas) => (v: number | string) => fieldError(field, v);

const FLAGS: Record<string, FlagSpec> = {
  data: { kind: 'string' },
  optimizer: { kind: 'string', check: check('optimizer') },
  lr: { kind: 'number', check: check('learningRate') },
  beta1: { kind: 'number', check: check('beta1') },
  beta2: { kind: 'number', check: check('beta2') },
  eps: { kind: 'number', check: check('epsilon') },
  'weight-decay': { kind: 'number', check: check('weightDecay') },
  momentum: { kind: 'number', check: check('momentum') },
  'batch-size': { kind: 'int', check: check('batchSize') },
  epochs: { kind: 'int', check: check('epochs') },
  'max-steps': { kind: 'int', check: check('maxSteps') },
  workers: { kind: 'int', check: check('workers') },
  seed: { kind: 'int', check: check('seed') },
  'log-every': { kind: 'int', check: check('logEvery') },
  'checkpoint-dir': { kind: 'string' },
  'checkpoint-every': { kind: 'int', check: check('checkpointEvery') },
  schedule: { kind: 'string', check: check('schedule') },
  'warmup-steps': { kind: 'int', check: check('warmupSteps') },
  'min-lr': { kind: 'number', check: check('minLearningRate') },
  'max-lr': { kind: 'number', check: check('maxLearningRate') },
  'step-size': { kind: 'int', check: check('stepSize') },
  gamma: { kind: 'number', check: check('gamma') },
  'pct-start': { kind: 'number', check: check('pctStart') },
  'schedule-steps': { kind: 'int', check: check('scheduleSteps') },
  resume: { kind: 'string' },
  'runs-dir': { kind: 'string' },
  'cache-dir': { kind: 'string' },
  dashboard: { kind: 'boolean' },
  json: { kind: 'boolean' },
  help: { kind: 'boolean' },
  ...VARIANT_FLAGS,
  engine: { kind: 'string', check: (v) => (v === 'wasm' || v === 'reference' ? undefined : `engine must be wasm or reference, got '${v}'`) },
};

const HYPER_FLAGS: Array<[string, keyof LiveHyperparameters]> = [
  ['lr', 'learningRate'], ['beta1', 'beta1'], ['beta2', 'beta2'], ['eps', 'epsilon'],
  ['weight-decay', 'weightDecay'], ['momentum', 'momentum'], ['alpha', 'alpha'], ['batch-size', 'batchSize'],
];
/** The schedule's flags (optim/schedule.ts), live fields too: with --resume they are edits at the resume step. */
export const SCHEDULE_FLAGS: Array<[string, ScheduleField]> = [
  ['schedule', 'schedule'], ['warmup-steps', 'warmupSteps'], ['min-lr', 'minLearningRate'], ['max-lr', 'maxLearningRate'],
  ['step-size', 'stepSize'], ['gamma', 'gamma'], ['pct-start', 'pctStart'],
];

export async function trainCommand(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, FLAGS);
  if (flags.help) {
    process.stdout.write(TRAIN_HELP);
    return 0;
  }
  const json = flags.json === true;
  const home = adamTrainerHome();
  const runsDir = resolveUserPath(String(flags['runs-dir'] ?? home.runsDir), '--runs-dir');
  const cacheDir = resolveUserPath(String(flags['cache-dir'] ?? home.cacheDir), '--cache-dir');
  const notice = (line: string) => process.stderr.write(line + '\n');

  // Where and how to run: allowed with --resume too.
  const place: StartConfig = {};
  if (flags.data !== undefined) place.data = String(flags.data) === 'sample' ? 'sample' : resolveUserPath(String(flags.data), '--data');
  if (flags['max-steps'] !== undefined) place.maxSteps = flags['max-steps'] as number;
  if (flags.epochs !== undefined) place.epochs = flags.epochs as number;
  if (flags.workers !== undefined) place.workers = flags.workers as number;
  if (flags['log-every'] !== undefined) place.logEvery = flags['log-every'] as number;
  if (flags['checkpoint-every'] !== undefined) place.checkpointEvery = flags['checkpoint-every'] as number;

  const edits: LiveHyperparameters = {};
  for (const [flag, field] of HYPER_FLAGS) if (flags[flag] !== undefined) (edits as Record<string, unknown>)[field] = flags[flag];
  for (const [flag, field] of SCHEDULE_FLAGS) if (flags[flag] !== undefined) (edits as Record<string, unknown>)[field] = flags[flag];
  if (flags['schedule-steps'] !== undefined) place.scheduleSteps = flags['schedule-steps'] as number;

  let config: RunConfig;
  let runId: string;
  let resume;
  let resumeEdits: LiveHyperparameters = {};
  let resumeFile = '';
  if (flags.resume !== undefined) {
    if (flags['schedule-steps'] !== undefined) throw new UserError('bad_usage', '--schedule-steps is fixed when a run starts (a resumed run follows the same schedule); edit the schedule with --schedule and its flags instead');
    resumeFile = resolveUserPath(String(flags.resume), '--resume');
    resume = readCheckpoint(resumeFile);
    const start: StartConfig = { ...place, ...edits, ...variantConfig(flags) };
    if (flags.optimizer !== undefined) start.optimizer = flags.optimizer as RunConfig['optimizer'];
    if (flags.seed !== undefined) start.seed = flags.seed as number;
    ({ config, edits: resumeEdits } = resumedConfig(resume, start, flagOf, 'bad_usage'));
    runId = resume.runId;
  } else {
    const start: StartConfig = { ...place, ...edits, ...variantConfig(flags) };
    if (flags.optimizer !== undefined) start.optimizer = flags.optimizer as RunConfig['optimizer'];
    if (flags.seed !== undefined) start.seed = flags.seed as number;
    // Without --workers, ADAM_TRAINER_WORKERS, else one worker per core other programs leave free (parallel/freeCores.ts).
    let workers = defaultWorkers();
    if (start.workers === undefined) {
      const fromEnv = workersFromEnv(process.env); // read only when no --workers: the flag wins, even over a bad value
      if (fromEnv !== undefined) workers = fromEnv;
      else {
        const choice = await chooseWorkers();
        workers = choice.workers;
        const note = fewerWorkersNote(choice);
        if (note) notice(`adam-trainer: ${note}`);
      }
    }
    config = resolveConfig(start, workers);
    const variant = variantError(config);
    if (variant) throw new UserError('bad_usage', variant.replace(/\b(nesterov|biasCorrection false|momentum)\b/g, (f) => f === 'biasCorrection false' ? '--no-bias-correction' : flagOf(f)));
    runId = newRunId();
  }

  const store = new RunStore(runsDir);
  const checkpointDir = flags['checkpoint-dir'] !== undefined ? resolveUserPath(String(flags['checkpoint-dir']), '--checkpoint-dir') : undefined;
  if (resume && store.exists(runId)) {
    // Only the run's own checkpoint may continue it, in place or as a branch (resume.ts).
    checkCheckpointOfRun(resume, store.readRecord(runId), `checkpoint ${resumeFile}`);
    // Take the run first: one that another process trains is refused (run_busy) before anything of it is read
    // to decide, or written: its newest checkpoint may change under us, and its losses must not be rewound.
    store.lock(runId);
    // As the server does (runManager.ts): a checkpoint older than its run's newest continues as a new run, a
    // branch, rather than overwrite the newer one and the losses recorded after it.
    const newest = store.checkpoints(runId).pop();
    if (newest && resume.step < newest.step) {
      const parentRunId = runId;
      runId = newRunId();
      store.createRun(runId, config, { parentRunId, forkStep: resume.step });
      const losses = new Float32Array(resume.step).fill(NaN);
      losses.set(store.readLosses(parentRunId).subarray(0, resume.step));
      store.appendLosses(runId, losses);
      resume = { ...resume, runId, parentRunId, forkStep: resume.step };
      store.close(parentRunId); // the parent goes back: only the branch trains here
      notice(`checkpoint step ${resume.step} is older than run ${parentRunId}'s newest (step ${newest.step}): training it on as a new run, ${runId}`);
    } else {
      store.rewindLosses(runId, resume.step);
    }
  }
  if (!store.exists(runId)) store.createRun(runId, config, resume?.parentRunId ? { parentRunId: resume.parentRunId, forkStep: resume.forkStep ?? 0 } : undefined);
  store.lock(runId); // one process trains a run at a time (store/runLock.ts)
  // What a killed writer left behind (a checkpoint's temporary file) goes before the run writes a checkpoint.
  for (const path of await cleanAbandonedWrites(runsDir, ...(checkpointDir ? [checkpointDir] : []))) notice(`removed ${path}, left by a write that was killed`);
  const run = new Run({
    runId,
    config,
    cacheDir,
    store,
    checkpointDir,
    resume,
    engine: (flags.engine as 'wasm' | 'reference' | undefined) ?? 'wasm',
    notice,
  });
  // A hyperparameter flag given with --resume is an edit at the resume step, recorded like one.
  if (resume && Object.keys(resumeEdits).length) run.update(resumeEdits);

  let dashboard: Dashboard | null = null;
  if (flags.dashboard) dashboard = await startDashboard({ run, runsDir, cacheDir, notice });

  const out = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n');
  run.on('dataset', (source: string) => { if (!json) notice(`data: ${source}`); });
  run.on('log', (m) => {
    if (json) {
      const { optimizer: _o, ...line } = m;
      out(line);
    } else {
      process.stdout.write(
        `step ${m.step.toLocaleString('en-US').padStart(7)}  epoch ${m.epoch.toFixed(2)}  loss ${m.loss.toFixed(4)}  ` +
          `acc ${(100 * m.accuracy).toFixed(1).padStart(5)}%  ${Math.round(m.samplesPerSec).toLocaleString('en-US')} samples/s\n`,
      );
    }
  });
  run.on('eval', (e) => {
    if (json) out(e);
    else process.stdout.write(`eval at step ${e.step}: test accuracy ${(100 * e.testAccuracy).toFixed(2)}%  test loss ${e.testLoss.toFixed(4)}\n`);
  });
  let diverged: string | null = null;
  run.on('state', (s) => {
    if (s.state !== 'paused' || !s.reason) return;
    if (dashboard) {
      notice(`paused: ${s.reason} (edit and resume in the dashboard, or Ctrl-C)`);
    } else {
      // Headless, nobody can resume it: stop after the checkpoint and fail the run.
      diverged = s.reason;
      void run.stop();
    }
  });

  // Ctrl-C (or SIGTERM) stops after a checkpoint; a second one exits at once.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    notice(`${sig}: stopping after a checkpoint...`);
    void run.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: RunSummaryDone;
  try {
    summary = await run.start();
  } catch (e) {
    if (e instanceof UserError) {
      notice(`adam-trainer train: ${e.message}`);
      await dashboard?.close();
      return e.code === 'bad_usage' || e.code === 'bad_config' ? 2 : 1;
    }
    notice(`adam-trainer train: run failed: ${(e as Error).stack ?? e}`);
    await dashboard?.close();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    store.closeAll(); // the run's files and its lock
  }
  if (diverged) {
    notice(`adam-trainer train: ${diverged}`);
    await dashboard?.close();
    return 1;
  }
  const done = { type: 'done', runId, ...summary };
  if (json) out(done);
  else {
    process.stdout.write(
      `done: ${summary.steps.toLocaleString('en-US')} steps in ${summary.seconds.toFixed(1)} s of training ` +
        `(${Math.round(summary.samplesPerSec).toLocaleString('en-US')} samples/s), train loss ${summary.trainLoss.toFixed(4)}, ` +
        `test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%\n  run ${runId} in ${store.dir(runId)}\n`,
    );
  }
  await dashboard?.linger(notice);
  await dashboard?.close();
  return run.state === 'failed' ? 1 : 0;
}
