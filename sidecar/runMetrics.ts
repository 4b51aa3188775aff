// A run's numbers between chunks: each step's loss and correct count folded into windows (mean, min and max, so
// spikes survive aggregation), the `metrics` messages made from them (a live one at most every metricsIntervalMs,
// 200 ms by default, for whoever watches; a recorded one at most every second for the run's history, so that its
// event log grows by a few MB an hour, not 80, while its min and max still cover every step; a log line every
// logEvery steps, whose `loss` is the mean since the previous multiple so that a resumed run prints the
// uninterrupted run's lines), the training time, and the summary at the end. Every step's own loss is kept apart, in the run's losses.f32.
import type { MetricsMessage } from './protocol';
import type { TrainedChunk, TrainingSession } from './session';

/** Aggregates per-step losses over a window: mean, min, max, accuracy. */
export class Window {
  lossSum = 0;
  lossMin = Infinity;
  lossMax = -Infinity;
  correct = 0;
  samples = 0;
  steps = 0;
  trainSeconds = 0;

  add(loss: number, correct: number, batch: number): void {
    this.lossSum += loss;
    if (loss < this.lossMin) this.lossMin = loss;
    if (loss > this.lossMax) this.lossMax = loss;
    this.correct += correct;
    this.samples += batch;
    this.steps++;
  }

  reset(): void {
    this.lossSum = 0; this.lossMin = Infinity; this.lossMax = -Infinity; this.correct = 0; this.samples = 0; this.steps = 0; this.trainSeconds = 0;
  }
}

export class RunMetrics {
  /** Since the last live `metrics` message. */
  private readonly live = new Window();
  /** Since the last recorded one. */
  private readonly record = new Window();
  /** Since the last log line (carried over a resume: the checkpoint holds its sum and count). */
  readonly log = new Window();
  private epoch = new Window();
  private lastEpoch: Window | null = null;
  trainSeconds = 0;
  private samplesTrained = 0;

  constructor(private readonly runId: string, resumed?: { lossSum: number; lossCount: number }) {
    if (resumed) {
      this.log.lossSum = resumed.lossSum;
      this.log.steps = resumed.lossCount;
    }
  }

  /**
   * Folds a chunk that took `seconds` into the windows. Returns the log lines it completed (none built when
   * `lines` is false: nobody reads them, and each one computes the optimizer's statistics while the workers wait),
   * and 'NaN' or 'Infinity' if a loss was not finite. The log window restarts at each log step either way: a
   * checkpoint carries it.
   */
  add(s: TrainingSession, chunk: TrainedChunk, seconds: number, lines = true): { logLines: MetricsMessage[]; bad: string | null } {
    this.trainSeconds += seconds;
    this.samplesTrained += chunk.steps * chunk.batchSize;
    this.live.trainSeconds += seconds;
    this.record.trainSeconds += seconds;
    this.log.trainSeconds += seconds;
    let bad: string | null = null;
    const logLines: MetricsMessage[] = [];
    for (let i = 0; i < chunk.steps; i++) {
      const loss = chunk.losses[i];
      const correct = chunk.correct[i];
      if (!Number.isFinite(loss) && bad === null) bad = String(loss);
      this.live.add(loss, correct, chunk.batchSize);
      this.record.add(loss, correct, chunk.batchSize);
      this.epoch.add(loss, correct, chunk.batchSize);
      this.log.add(loss, correct, chunk.batchSize);
      const step = chunk.firstStep + i;
      if (step % s.config.logEvery === 0) {
        if (lines) logLines.push(this.message(s, this.log, step));
        this.log.reset();
      }
    }
    return { logLines, bad };
  }

  /** The epoch ended: its mean loss is the run's train loss until the next one ends. */
  epochEnded(): void {
    this.lastEpoch = this.epoch;
    this.epoch = new Window();
  }

  /** The live `metrics` message for the steps since the previous one, or null when there were none. */
  takeLive(s: TrainingSession): MetricsMessage | null {
    if (this.live.steps === 0) return null;
    const msg = this.message(s, this.live, s.step);
    this.live.reset();
    return msg;
  }

  /** The `metrics` message to record in the run's history for the steps since the previous one, or null when none. */
  takeRecord(s: TrainingSession): MetricsMessage | null {
    if (this.record.steps === 0) return null;
    const msg = this.message(s, this.record, s.step);
    this.record.reset();
    return msg;
  }

  get samplesPerSec(): number {
    return this.trainSeconds > 0 ? this.samplesTrained / this.trainSeconds : 0;
  }

  /** The mean training loss of the current epoch (or of the last whole one, when the current has no steps). */
  get trainLoss(): number {
    const w = this.epoch.steps > 0 ? this.epoch : this.lastEpoch;
    return w && w.steps ? w.lossSum / w.steps : NaN;
  }

  private message(s: TrainingSession, w: Window, step: number): MetricsMessage {
    const stats = s.optimizerStats();
    const n = Math.max(1, w.steps);
    return {
      type: 'metrics',
      runId: this.runId,
      step,
      epoch: s.epochProgress,
      samplesSeen: s.epoch * s.dataset.train.count + s.cursor,
      loss: w.lossSum / n,
      lossMin: w.steps ? w.lossMin : 0,
      lossMax: w.steps ? w.lossMax : 0,
      accuracy: w.samples ? w.correct / w.samples : 0,
      learningRate: s.learningRateUsed,
      samplesPerSec: w.trainSeconds > 0 ? w.samples / w.trainSeconds : this.samplesPerSec,
      updateRatio: stats.updateRatio,
      optimizer: stats.optimizer,
      threads: s.activeThreads,
    };
  }
}
