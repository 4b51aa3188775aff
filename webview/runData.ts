// Everything the dashboard knows about one run, as series ready for the charts. Long series live here,
// outside the DOM and outside chart.js, as fixed-size summaries (series.ts): memory and drawing do not grow
// with the run's length. The charts hold references to these arrays and are only told to redraw. Messages repeated by a re-subscribe (history overlapping live messages) are dropped by step.
import type { AppliedMessage, EvalMessage, MetricsMessage, PlanMessage, RunConfig, RunState, ServerMessage } from '../sidecar/protocol';
import { DETAIL_POINTS, metricsLines } from '../sidecar/protocol';
import { appendIncreasing, BucketSeries, SERIES_CAPACITY, SmoothedSeries, type XY } from './series';
import { StepHistogramSeries } from './stepHistogramSeries';

type History = Extract<ServerMessage, { type: 'history' }>;
type Detail = Extract<ServerMessage, { type: 'detail' }>;

export class RunData {
  config: RunConfig;
  state: RunState;
  parentRunId?: string;
  forkStep?: number;
  readonly loss: SmoothedSeries;
  readonly accuracy: SmoothedSeries;
  readonly samplesPerSec: SmoothedSeries;
  /** The learning rate each step used (the band is its range within a bucket). */
  readonly learningRate: BucketSeries;
  /** Per layer: RMS step / learning rate over steps. */
  readonly updateRatio = new Map<string, BucketSeries>();
  /** Test accuracy by epoch (x = epoch, possibly fractional when a run stopped mid-epoch). */
  readonly testAccuracy: XY[] = [];
  readonly evals: EvalMessage[] = [];
  readonly applied: AppliedMessage[] = [];
  /** Per layer, what each parameter's step is: heatmap columns over steps. */
  readonly stepHistograms = new StepHistogramSeries();
  /** The planned lr (`plan` messages, each from its step) and the dashed line they draw: each plan until the next. */
  readonly plans: PlanMessage[] = [];
  readonly plannedLearningRate: XY[] = [];
  lastMetrics?: MetricsMessage;
  /** The sidecar's record of the run (`history`) has been loaded: until then its charts wait for it. */
  historyLoaded = false;

  constructor(
    readonly runId: string,
    config: RunConfig,
    state: RunState,
    smoothingWeight: number,
    /** Points each series keeps (a run's summary; a zoomed range's detail holds more). */
    private readonly capacity = SERIES_CAPACITY,
  ) {
    this.config = config;
    this.state = state;
    this.loss = new SmoothedSeries(smoothingWeight, capacity);
    this.accuracy = new SmoothedSeries(smoothingWeight, capacity);
    this.samplesPerSec = new SmoothedSeries(smoothingWeight, capacity);
    this.learningRate = new BucketSeries(capacity);
  }

  get lastStep(): number {
    return this.lastMetrics?.step ?? -1;
  }

  /** `history` replaces what we had: it is the sidecar's whole record of the run. */
  loadHistory(h: History): void {
    this.clear();
    this.config = h.config;
    this.state = h.state;
    this.parentRunId = h.parentRunId;
    this.forkStep = h.forkStep;
    for (const m of metricsLines(h.runId, h.metrics)) this.addMetrics(m);
    for (const e of h.evals) this.addEval(e);
    for (const a of h.applied) this.addApplied(a);
    this.stepHistograms.load(h.stepHistograms ?? []);
    for (const p of h.plans ?? []) this.addPlan(p);
    this.historyLoaded = true;
  }

  /** A plan replaces the plans from its step on (a resumed run re-plans from where it resumed). */
  addPlan(p: PlanMessage): void {
    while (this.plans.length && this.plans[this.plans.length - 1].step >= p.step) this.plans.pop();
    this.plans.push(p);
    // Emptied, not replaced: the lr chart holds a reference to this array.
    this.plannedLearningRate.length = 0;
    this.plans.forEach((plan, i) => {
      const until = this.plans[i + 1]?.step ?? Infinity;
      for (const q of plan.points) if (q.step < until) this.plannedLearningRate.push({ x: q.step, y: q.learningRate });
    });
  }

  /** Returns false for a repeat (a step we already have). */
  addMetrics(m: MetricsMessage): boolean {
    if (m.step <= this.lastStep) return false;
    this.lastMetrics = m;
    this.loss.push(m.step, m.loss, m.lossMin, m.lossMax);
    this.accuracy.push(m.step, m.accuracy);
    this.learningRate.push(m.step, m.learningRate);
    this.samplesPerSec.push(m.step, m.samplesPerSec);
    for (const [layer, ratio] of Object.entries(m.updateRatio)) {
      let s = this.updateRatio.get(layer);
      if (!s) this.updateRatio.set(layer, (s = new BucketSeries(this.capacity)));
      s.push(m.step, ratio);
    }
    return true;
  }

  addEval(e: EvalMessage): boolean {
    if (this.evals.some((x) => x.step === e.step)) return false;
    this.evals.push(e);
    this.evals.sort((a, b) => a.step - b.step);
    this.testAccuracy.length = 0;
    for (const x of this.evals) appendIncreasing(this.testAccuracy, x.epoch, x.testAccuracy);
    return true;
  }

  addApplied(a: AppliedMessage): boolean {
    const key = JSON.stringify(a.changes);
    if (this.applied.some((x) => x.step === a.step && JSON.stringify(x.changes) === key)) return false;
    this.applied.push(a);
    this.applied.sort((p, q) => p.step - q.step);
    // The configuration shown in the form follows the run's current hyperparameters.
    const config = { ...this.config } as Record<string, unknown>;
    for (const [field, { to }] of Object.entries(a.changes)) if (field in config) config[field] = to;
    this.config = config as RunConfig;
    return true;
  }

  /**
   * The run between two steps at full detail (a `detail` answer): every step's loss and its band from the run
   * store, the metrics recorded in the range, and the run's own edits and evaluations for the markers.
   */
  static detail(of: RunData, d: Detail, smoothingWeight: number): RunData {
    const r = new RunData(of.runId, of.config, of.state, smoothingWeight, DETAIL_POINTS);
    for (const m of d.metrics) r.addMetrics(m);
    const value = (x: number | null) => x ?? NaN;
    if (d.loss.steps.length) {
      r.loss.clear();
      d.loss.steps.forEach((step, i) => r.loss.push(step, value(d.loss.mean[i]), value(d.loss.min[i]), value(d.loss.max[i])));
    }
    r.applied.push(...of.applied);
    r.evals.push(...of.evals);
    r.testAccuracy.push(...of.testAccuracy);
    return r;
  }

  get latestEval(): EvalMessage | undefined {
    return this.evals[this.evals.length - 1];
  }

  setSmoothing(weight: number): void {
    this.loss.setWeight(weight);
    this.accuracy.setWeight(weight);
    this.samplesPerSec.setWeight(weight);
  }

  /** The band around the loss: each bucket's lowest and highest per-step loss. */
  get lossMin(): XY[] {
    return this.loss.min;
  }

  get lossMax(): XY[] {
    return this.loss.max;
  }

  /** The step of the metrics point nearest to `step`, for "Fork from here" (a checkpoint or a logged step). */
  nearestStep(step: number): number | undefined {
    let best: number | undefined;
    for (const p of this.loss.raw) if (best === undefined || Math.abs(p.x - step) < Math.abs(best - step)) best = p.x;
    return best;
  }

  private clear(): void {
    this.lastMetrics = undefined;
    this.loss.clear();
    this.accuracy.clear();
    this.samplesPerSec.clear();
    this.learningRate.clear();
    this.testAccuracy.length = 0;
    // Emptied, not replaced: the charts hold references to these arrays.
    for (const s of this.updateRatio.values()) s.clear();
    this.evals.length = 0;
    this.applied.length = 0;
    this.plans.length = 0;
    this.plannedLearningRate.length = 0;
  }
}
