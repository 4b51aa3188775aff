// What a PyTorch export reproduces (`adam-trainer export-pytorch`): the state a run starts from (its initial
// weights, or a checkpoint's weights, optimizer state and data cursor), the hyperparameters in force then,
// and every edit after it, step by step. A run is replayed from step 0: a fork is its parent's run up to
// the fork step, then the fork's own configuration and edits, so its whole loss curve is reproduced.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors';
import { extractSampleSync } from '../data';
import { initParameters } from '../nn/init';
import { PARAMETER_COUNT } from '../nn/spec';
import { LIVE_HYPERPARAMETERS, OPTIMIZERS, SCHEDULE_FIELDS, type LiveHyperparameters, type RunConfig } from '../protocol';
import { Rng, type RngState } from '../rng';
import { checkpointsIn, readCheckpoint } from '../store/checkpoint';
import { RunStore } from '../store/runs';
import type { TrainingState } from '../store/state';

export interface Edit {
  step: number; // the first step trained with the new values (an `applied` event's step)
  changes: LiveHyperparameters;
}

export interface ExportPlan {
  runId: string;
  from: { kind: 'run' } | { kind: 'checkpoint'; path: string };
  /** The hyperparameters in force at step start.step + 1, and the run's length, seed and data. */
  config: RunConfig;
  start: { step: number; epoch: number; cursor: number; rng: RngState; lossSum: number; lossCount: number; augmentSeed?: number };
  edits: Edit[];
  params: Float32Array;
  /** From a checkpoint: Adam's m and v (SGD's and RMSprop's momentum buffer in m, RMSprop's square average in v),
   *  AMSGrad's max v, this epoch's order (and, with augmentation, start.augmentSeed for its flips and crops). */
  optimizerState?: { m: Float32Array; v: Float32Array; vMax: Float32Array };
  permutation?: Uint32Array;
  dataset: { path?: string; trainCount?: number; testCount?: number };
  /** The original run as recorded: steps with a loss in losses.f32, its last test accuracy. */
  original: { steps: number; testAccuracy?: number };
}

/** The run `runId` of the runs folder, from its first step. */
export function planFromRun(runsDir: string, runId: string, cacheDir: string): ExportPlan {
  const store = new RunStore(runsDir);
  const chain = lineage(store, runId);
  const root = chain[0];
  checkExportable(root.config);
  const edits: Edit[] = [];
  let inForce = { ...root.config };
  chain.forEach((link, i) => {
    const until = chain[i + 1]?.forkStep ?? Infinity;
    if (i > 0) {
      // A fork trains from its parent's checkpoint with that checkpoint's values (its config.json), then its own edits.
      const changes = differences(inForce, link.config);
      if (Object.keys(changes).length) edits.push({ step: (link.forkStep ?? 0) + 1, changes });
      inForce = { ...inForce, ...changes };
    }
    const from = i > 0 ? (link.forkStep ?? 0) : 0;
    for (const a of store.readHistory(link.runId).applied) {
      if (a.step <= from || a.step > until) continue;
      const changes = appliedChanges(a.changes);
      edits.push({ step: a.step, changes });
      inForce = { ...inForce, ...changes };
    }
  });
  const run = chain[chain.length - 1];
  const newest = newestState(store.dir(runId));
  const length = newest?.config ?? run.config;
  const params = new Float32Array(PARAMETER_COUNT);
  initParameters(params, root.config.seed);
  const history = store.readHistory(runId);
  return {
    runId,
    from: { kind: 'run' },
    // scheduleSteps as the run resolved it when it started (its checkpoints hold it; its record may say 0, "the run's").
    config: { ...root.config, epochs: length.epochs, maxSteps: length.maxSteps, logEvery: length.logEvery, scheduleSteps: newest?.config.scheduleSteps ?? root.config.scheduleSteps, ...(run.config.data !== undefined ? { data: run.config.data } : {}) },
    start: { step: 0, epoch: 0, cursor: 0, rng: new Rng(root.config.seed).state(), lossSum: 0, lossCount: 0 },
    edits: merge(edits),
    params,
    dataset: dataset(run.config.data, cacheDir, newest),
    original: { steps: store.readLosses(runId).length, ...(history.evals.length ? { testAccuracy: history.evals[history.evals.length - 1].testAccuracy } : {}) },
  };
}

/** A checkpoint: its weights, optimizer state and data cursor; when it lies in its run's folder, the run's later edits. */
export function planFromCheckpoint(file: string, cacheDir: string): ExportPlan {
  const state = readCheckpoint(file);
  checkExportable(state.config);
  const dir = dirname(file);
  const inRunFolder = basename(dir) === state.runId && existsSync(join(dir, 'config.json'));
  let edits: Edit[] = [];
  let length: RunConfig = state.config;
  let original: ExportPlan['original'] = { steps: state.step };
  if (inRunFolder) {
    const store = new RunStore(dirname(dir));
    const history = store.readHistory(state.runId);
    edits = history.applied
      .filter((a) => a.step > state.step)
      .map((a) => ({ step: a.step, changes: appliedChanges(a.changes) }));
    length = newestState(dir)?.config ?? state.config;
    original = { steps: store.readLosses(state.runId).length, ...(history.evals.length ? { testAccuracy: history.evals[history.evals.length - 1].testAccuracy } : {}) };
  }
  return {
    runId: state.runId,
    from: { kind: 'checkpoint', path: file },
    config: { ...state.config, epochs: length.epochs, maxSteps: length.maxSteps, logEvery: length.logEvery },
    start: {
      step: state.step, epoch: state.epoch, cursor: state.cursor, rng: state.rng, lossSum: state.lossSum, lossCount: state.lossCount,
      ...(state.augmentSeed !== undefined ? { augmentSeed: state.augmentSeed } : {}),
    },
    edits: merge(edits),
    params: state.params,
    optimizerState: { m: state.m, v: state.v, vMax: state.vMax },
    permutation: state.permutation,
    dataset: dataset(state.config.data, cacheDir, state),
    original,
  };
}

interface Link {
  runId: string;
  config: RunConfig;
  forkStep?: number;
}

/** The run and its ancestors, the first run of the line first; each link's forkStep is where it left its parent. */
function lineage(store: RunStore, runId: string): Link[] {
  const chain: Link[] = [];
  for (let id: string | undefined = runId; id !== undefined; ) {
    const seen = id;
    if (chain.some((l) => l.runId === seen)) throw new UserError('unknown_run', `run ${runId}'s ancestry loops at ${id}`);
    if (!store.exists(id)) {
      if (!chain.length) throw new UserError('unknown_run', `no run ${id} in ${store.root}`);
      throw new UserError('unknown_run', `run ${chain[0]?.runId ?? runId} was forked from ${id}, which is not in ${store.root}: export one of its checkpoints instead (adam-trainer export-pytorch CHECKPOINT OUT_DIR)`);
    }
    const record = store.readRecord(id);
    chain.unshift({ runId: id, config: record.config, forkStep: record.parentRunId !== undefined ? record.forkStep ?? 0 : undefined });
    id = record.parentRunId;
  }
  return chain;
}

/** An `applied` event's new values of the live hyperparameters. */
function appliedChanges(changes: Record<string, { from: number | string; to: number | string }>): LiveHyperparameters {
  const out: Record<string, number | string> = {};
  for (const [field, { to }] of Object.entries(changes)) if ((EDITABLE as readonly string[]).includes(field)) out[field] = to;
  return out as LiveHyperparameters;
}

/** What an edit may change: the live hyperparameters and the lr schedule (train.py replays both). */
const EDITABLE = [...LIVE_HYPERPARAMETERS, ...SCHEDULE_FIELDS];

function differences(a: RunConfig, b: RunConfig): LiveHyperparameters {
  const changes: LiveHyperparameters = {};
  for (const k of EDITABLE) if (a[k] !== b[k]) (changes as Record<string, unknown>)[k] = b[k];
  return changes;
}

/** Edits at the same step become one (later ones win), in step order. */
function merge(edits: Edit[]): Edit[] {
  const byStep = new Map<number, LiveHyperparameters>();
  for (const e of edits) byStep.set(e.step, { ...(byStep.get(e.step) ?? {}), ...e.changes });
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).filter(([, c]) => Object.keys(c).length).map(([step, changes]) => ({ step, changes }));
}

function newestState(dir: string): TrainingState | undefined {
  try {
    const newest = checkpointsIn(dir).pop();
    return newest ? newest.state ?? readCheckpoint(newest.path) : undefined;
  } catch {
    return undefined;
  }
}

/** Where the run's data is, and how many images it had (from a checkpoint's dataset id, when there is one). */
function dataset(data: string | undefined, cacheDir: string, state: TrainingState | undefined): ExportPlan['dataset'] {
  const counts = /^(\d+)\/(\d+)$/.exec(state?.datasetId ?? '');
  const path = data === 'sample' ? extractSampleSync(cacheDir) : data ?? (existsSync(join(cacheDir, 'cifar-10-batches-bin')) ? join(cacheDir, 'cifar-10-batches-bin') : undefined);
  return { ...(path !== undefined ? { path } : {}), ...(counts ? { trainCount: Number(counts[1]), testCount: Number(counts[2]) } : {}) };
}

/** The optimizers and fields the script knows; a configuration beyond them is refused, never exported wrong. */
function checkExportable(config: RunConfig): void {
  if (!(OPTIMIZERS as readonly string[]).includes(config.optimizer)) throw new UserError('bad_config', `optimizer ${config.optimizer} cannot be exported to PyTorch yet`);
  const known = new Set(['optimizer', 'biasCorrection', 'nesterov', 'augment', ...EDITABLE, 'scheduleSteps', 'epochs', 'workers', 'seed', 'maxSteps', 'logEvery', 'checkpointEvery', 'data']);
  const unknown = Object.keys(config).filter((k) => !known.has(k));
  if (unknown.length) throw new UserError('bad_config', `the run's ${unknown.join(', ')} cannot be exported to PyTorch yet: train.py would not reproduce it`);
}
