// Learning-rate schedules, the one statement of them: the engine, the metrics, the dashboard's planned curve and
// the exported train.py (sidecar/pytorch/train.py mirrors `learningRateAt`) all take the lr from here.
//
// Counted in optimizer steps: step k (0-based) is the k-th call of optimizer.step(), and uses the lr PyTorch's
// scheduler holds after k calls of scheduler.step() (one per optimizer step, after it), i.e. at last_epoch = k:
//   constant   learningRate
//   step       StepLR(step_size=stepSize, gamma):            learningRate * gamma^floor(k / stepSize)
//   cosine     CosineAnnealingLR(T_max=T, eta_min=minLearningRate):
//                                                            minLearningRate + (learningRate - minLearningRate) * (1 + cos(pi k / T)) / 2
//   onecycle   OneCycleLR(max_lr=maxLearningRate, total_steps=T, pct_start=pctStart, anneal_strategy='cos',
//              div_factor=25, final_div_factor=1e4, cycle_momentum=False): from maxLearningRate/25 up to
//              maxLearningRate over pctStart*T - 1 steps, then down to maxLearningRate/25/1e4 at step T - 1
//              (like OneCycleLR, it ignores learningRate)
// With warmupSteps W > 0, PyTorch's SequentialLR([LinearLR(start_factor=1/(W+1), total_iters=W), main],
// milestones=[W]): steps 0..W-1 use the main schedule's first lr times (k+1)/(W+1), and the main schedule starts
// at step W, its T being the run's planned steps minus W. (SequentialLR rather than ChainedScheduler: OneCycleLR
// and CosineAnnealingLR set the lr outright, so chaining a warmup onto them multiplies nothing sensible.)
// Past its planned length a schedule holds its last value (PyTorch's cosine would climb again, OneCycleLR refuses).
// The closed forms are PyTorch's own (_get_closed_form_lr); its recursive forms agree to rounding
// (test/optim/schedule.pytorch.test.ts measures how closely).
import { UserError } from '../errors';

export const SCHEDULES = ['constant', 'step', 'cosine', 'onecycle'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/** OneCycleLR's fixed factors (the issue's: PyTorch's defaults). */
export const ONECYCLE_DIV_FACTOR = 25;
export const ONECYCLE_FINAL_DIV_FACTOR = 1e4;

export interface ScheduleConfig {
  learningRate: number;
  schedule: ScheduleName;
  warmupSteps: number;
  minLearningRate: number;
  maxLearningRate: number;
  stepSize: number;
  gamma: number;
  pctStart: number;
  /** Optimizer steps the schedule is planned over ("over the run"): fixed when the run starts. */
  scheduleSteps: number;
}

/** The run's planned length: --max-steps when it stops first, else every epoch at the starting batch size. */
export function plannedSteps(epochs: number, maxSteps: number, trainCount: number, batchSize: number): number {
  const byEpochs = epochs * Math.floor(trainCount / batchSize);
  return maxSteps > 0 ? Math.min(maxSteps, byEpochs) : byEpochs;
}

/** Why this schedule cannot be planned over its steps, or undefined (PyTorch would divide by zero or refuse). */
export function scheduleProblem(c: ScheduleConfig): string | undefined {
  if (c.schedule === 'constant' && c.warmupSteps === 0) return undefined;
  const main = c.scheduleSteps - c.warmupSteps;
  if (main < 1) return `warmupSteps ${c.warmupSteps} leaves no step of the run's ${c.scheduleSteps} for the ${c.schedule} schedule; use fewer warmup steps`;
  if (c.schedule === 'cosine' && c.minLearningRate > c.learningRate) {
    return `minLearningRate ${c.minLearningRate} is above learningRate ${c.learningRate}: cosine anneals down to it`;
  }
  if (c.schedule === 'onecycle') {
    const up = c.pctStart * main - 1;
    if (up <= 0 || main - 1 <= up) {
      return `onecycle over ${main} steps with pctStart ${c.pctStart} leaves a phase without steps (it needs pctStart * steps > 1 and < steps); change pctStart or run longer`;
    }
  }
  return undefined;
}

export function checkSchedule(c: ScheduleConfig): void {
  const why = scheduleProblem(c);
  if (why) throw new UserError('bad_config', why);
}

/** The lr the main schedule (no warmup) gives at its step j of `steps`. */
function mainLearningRate(c: ScheduleConfig, j: number, steps: number): number {
  switch (c.schedule) {
    case 'constant':
      return c.learningRate;
    case 'step':
      return c.learningRate * Math.pow(c.gamma, Math.floor(j / c.stepSize));
    case 'cosine': {
      const k = Math.min(j, steps);
      return c.minLearningRate + ((c.learningRate - c.minLearningRate) * (1 + Math.cos((Math.PI * k) / steps))) / 2;
    }
    case 'onecycle': {
      const initial = c.maxLearningRate / ONECYCLE_DIV_FACTOR;
      const final = initial / ONECYCLE_FINAL_DIV_FACTOR;
      const upEnd = c.pctStart * steps - 1;
      const k = Math.min(j, steps - 1);
      // OneCycleLR's phases and its _annealing_cos(start, end, pct) = end + (start - end) / 2 * (cos(pi pct) + 1).
      if (k <= upEnd) return annealCos(initial, c.maxLearningRate, k / upEnd);
      return annealCos(c.maxLearningRate, final, (k - upEnd) / (steps - 1 - upEnd));
    }
  }
}

function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1);
}

/** The lr of optimizer step k (0-based: the step that makes Adam's t = k + 1). */
export function learningRateAt(c: ScheduleConfig, k: number): number {
  const W = c.warmupSteps;
  const main = c.scheduleSteps - W;
  if (k < W) {
    // LinearLR's closed form: base * (start + (1 - start) * k / W) with start = 1 / (W + 1), i.e. base * (k + 1) / (W + 1).
    const start = 1 / (W + 1);
    return mainLearningRate(c, 0, main) * (start + ((1 - start) * k) / W);
  }
  return mainLearningRate(c, k - W, main);
}

/**
 * The planned lr from step `from` to the end of the plan, as few points as draw it: every step where it jumps
 * (StepLR's boundaries, the end of warmup) and about `budget` points in between. x is the 1-based step that uses
 * the lr, as the metrics' `step` is.
 */
export function planPoints(c: ScheduleConfig, from: number, budget = 300): Array<{ step: number; learningRate: number }> {
  const end = Math.max(c.scheduleSteps, from + 1);
  const steps = new Set<number>([from, end - 1]);
  const stride = Math.max(1, Math.ceil((end - from) / budget));
  for (let k = from; k < end; k += stride) steps.add(k);
  const edges = [c.warmupSteps];
  if (c.schedule === 'step') for (let b = c.warmupSteps + c.stepSize; b < end && edges.length < 4 * budget; b += c.stepSize) edges.push(b);
  for (const b of edges) if (b > from && b < end) { steps.add(b - 1); steps.add(b); }
  return [...steps].sort((a, b) => a - b).map((k) => ({ step: k + 1, learningRate: learningRateAt(c, k) }));
}
