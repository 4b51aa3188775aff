// The learning-rate range test (optim/lrRange.ts) on the real engine: a session of its own (its own dataset copy,
// worker threads and parameters, never a running run's), from a fresh net of the seed or from a checkpoint's
// weights with a fresh optimizer, raising the lr exponentially each step until the smoothed loss diverges.
// `adam-trainer lr-find` and the sidecar's `lrFind` message both run it.
import { rangeLearningRate, RangeRecorder, type RangePoint, type RangeSuggestion } from './optim/lrRange';
import type { OptimizerName, RunConfig } from './protocol';
import { TrainingSession } from './session';
import type { TrainingState } from './store/state';

export interface LrFindOptions {
  optimizer: OptimizerName;
  /** Data, batch size, seed, workers and the optimizer's other hyperparameters (its lr and schedule are the test's). */
  config: RunConfig;
  minLearningRate: number;
  maxLearningRate: number;
  steps: number;
  /** Start from these weights (a checkpoint's) instead of the seed's fresh net; the optimizer starts fresh. */
  from?: TrainingState;
  cacheDir: string;
  notice?: (line: string) => void;
  signal?: AbortSignal;
}

export interface LrFindResult extends RangeSuggestion {
  optimizer: OptimizerName;
  points: RangePoint[];
  diverged: boolean;
}

/** Steps per chunk: the test stops within this many steps of divergence and reports none past it. */
const CHUNK_STEPS = 16;

export async function findLearningRate(opts: LrFindOptions, onPoint?: (p: RangePoint) => void): Promise<LrFindResult> {
  const { minLearningRate: lo, maxLearningRate: hi, steps } = opts;
  const session = await TrainingSession.create({
    config: { ...opts.config, optimizer: opts.optimizer, learningRate: lo, schedule: 'constant', warmupSteps: 0, maxSteps: steps, scheduleSteps: steps, epochs: 10000 },
    cacheDir: opts.cacheDir,
    notice: opts.notice,
    signal: opts.signal,
  });
  try {
    if (opts.from) session.engine.params.set(opts.from.params);
    const recorder = new RangeRecorder();
    const lrAt = (k: number) => rangeLearningRate(lo, hi, steps, k);
    let going = true;
    while (going && session.step < steps) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      const first = session.step;
      const chunk = await session.trainChunk(Math.min(CHUNK_STEPS, steps - first), lrAt);
      for (let i = 0; i < chunk.steps && going; i++) {
        going = recorder.add(lrAt(first + i), chunk.losses[i]);
        onPoint?.(recorder.points[recorder.points.length - 1]);
      }
    }
    return { optimizer: opts.optimizer, points: recorder.points, diverged: recorder.diverged, ...recorder.suggestion() };
  } finally {
    await session.close();
  }
}
