// When a run computes its step histograms (optim/stepHistogram.ts), within a time budget: after each one it
// measures what it cost and waits K steps, K = cost / (budget x the measured time of a training step), so the
// histograms take about `budget` of the training time whatever the machine, the batch size or the worker count
// (a histogram of the 62,006 parameters costs ~0.7 ms through the WebAssembly kernel on a loaded machine, a step at
// batch 4 ~0.2 ms on a quiet one: one every ~350 steps at 1%). They are computed between chunks, while the workers
// wait, from the state in shared memory (session.ts stepHistograms). Each
// one goes out live; the run's history records them merged, at most one column every RECORD_INTERVAL_MS.
import type { StepCounts } from './optim/stepHistogram';
import type { StepHistogramMessage } from './protocol';
import { mergeColumns, stepHistogramMessage } from './stepHistogramColumns';

/** The share of training time the histograms may take (the issue allows 2% of samples/s at batch 4). */
export const STEP_HISTOGRAM_BUDGET = 0.01;
/** Never more often than this, however cheap (a column a few steps wide says nothing new). */
const MIN_EVERY_STEPS = 20;
/** A run whose optimizer keeps no histogram state (SGD without momentum) looks again after this many steps. */
const RETRY_STEPS = 1000;
const RECORD_INTERVAL_MS = 5000;

/** A training session (session.ts): its step, and its histograms, through the kernel or in JavaScript. */
export interface HistogramSource {
  step: number;
  stepHistograms(): StepCounts | null;
}

export interface HistogramOutput {
  live: StepHistogramMessage | null; // to send to whoever watches
  record: StepHistogramMessage | null; // to append to the run's history
}

const NONE: HistogramOutput = { live: null, record: null };

export class StepHistogramRecorder {
  private nextStep = 0;
  private lastStep = -1;
  private secondsPerStep = 0;
  private pending: StepHistogramMessage | null = null;
  private lastRecordMs: number;
  /** Seconds spent computing histograms, and how many: for the benchmark and the tests. */
  spentSeconds = 0;
  computed = 0;

  constructor(
    private readonly runId: string,
    private readonly budget = STEP_HISTOGRAM_BUDGET,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.lastRecordMs = nowMs();
  }

  /** After a chunk of `steps` steps that trained for `seconds`: a histogram when one is due. */
  afterChunk(s: HistogramSource, steps: number, seconds: number): HistogramOutput {
    const perStep = seconds / Math.max(1, steps);
    this.secondsPerStep = this.secondsPerStep === 0 ? perStep : 0.7 * this.secondsPerStep + 0.3 * perStep;
    if (s.step < this.nextStep) return NONE;
    return this.sample(s, false);
  }

  /** At a pause, a halt or the end: a histogram of the last step (unless it has one) and the history's last column. */
  finish(s: HistogramSource): HistogramOutput {
    if (s.step === this.lastStep) return { live: null, record: this.takePending() };
    return this.sample(s, true);
  }

  private sample(s: HistogramSource, force: boolean): HistogramOutput {
    const t0 = this.nowMs();
    const counts = s.stepHistograms();
    if (!counts) {
      this.nextStep = s.step + RETRY_STEPS;
      return { live: null, record: force ? this.takePending() : null };
    }
    const msg = stepHistogramMessage(this.runId, s.step, counts);
    const costSeconds = (this.nowMs() - t0) / 1000;
    this.spentSeconds += costSeconds;
    this.computed++;
    this.lastStep = s.step;
    const every = this.secondsPerStep > 0 ? Math.ceil(costSeconds / (this.budget * this.secondsPerStep)) : MIN_EVERY_STEPS;
    this.nextStep = s.step + Math.max(MIN_EVERY_STEPS, every);
    this.pending = this.pending ? mergeColumns(this.pending, msg) ?? msg : msg;
    const record = force || this.nowMs() - this.lastRecordMs >= RECORD_INTERVAL_MS ? this.takePending() : null;
    return { live: msg, record };
  }

  private takePending(): StepHistogramMessage | null {
    const p = this.pending;
    this.pending = null;
    if (p) this.lastRecordMs = this.nowMs();
    return p;
  }
}
