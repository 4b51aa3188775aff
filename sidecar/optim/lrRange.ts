// The learning-rate range test's rules (Smith, "Cyclical Learning Rates", 2017, section 3.3), as pytorch-lr-finder's
// LRFinder.range_test defines them (its defaults; Lightning's lr_find is the same idea):
//   lr of step i (0-based) of n:  minLr * (maxLr / minLr) ^ (i / (n - 1))          (its ExponentialLR)
//   smoothed loss:                s_0 = l_0;  s_i = 0.05 * l_i + 0.95 * s_{i-1}     (smooth_f 0.05)
//   divergence:                   stop after the first step whose s_i > 5 * min(s_0..s_i)   (diverge_th 5), or
//                                 whose loss is not finite
//   suggestion:                   the lr of the steepest descent of the smoothed loss: argmin of numpy.gradient(s)
//                                 over the steps without the first 10 and the last 5 (skip_start, skip_end)
// The finder (sidecar/lrFinder.ts) trains through the real engine; this file holds only the arithmetic, checked
// against the same procedure written out with numpy (test/optim/lrRange.test.ts).
export const SMOOTHING = 0.05;
export const DIVERGE_FACTOR = 5;
export const SKIP_START = 10;
export const SKIP_END = 5;

export interface RangePoint {
  step: number; // 1-based
  learningRate: number;
  loss: number;
  smoothedLoss: number;
}

export interface RangeSuggestion {
  /** The steepest descent of the smoothed loss; null when too few steps were left to judge. */
  learningRate: number | null;
  /** The lr of the lowest smoothed loss. */
  minLossLearningRate: number;
}

/** The lr of step i (0-based) of a test of `steps` steps from minLr to maxLr. */
export function rangeLearningRate(minLr: number, maxLr: number, steps: number, i: number): number {
  return steps <= 1 ? minLr : minLr * Math.pow(maxLr / minLr, i / (steps - 1));
}

/** Folds the losses in one at a time: smoothing and the divergence rule. */
export class RangeRecorder {
  readonly points: RangePoint[] = [];
  private best = Infinity;
  diverged = false;

  /** Records step i's loss; returns false once the test must stop (the loss diverged). */
  add(learningRate: number, loss: number): boolean {
    if (this.diverged) return false;
    const prev = this.points[this.points.length - 1];
    const smoothedLoss = prev ? SMOOTHING * loss + (1 - SMOOTHING) * prev.smoothedLoss : loss;
    this.points.push({ step: this.points.length + 1, learningRate, loss, smoothedLoss });
    if (!Number.isFinite(smoothedLoss)) {
      this.diverged = true;
      return false;
    }
    if (smoothedLoss < this.best) this.best = smoothedLoss;
    if (smoothedLoss > DIVERGE_FACTOR * this.best) this.diverged = true;
    return !this.diverged;
  }

  suggestion(): RangeSuggestion {
    return suggest(this.points);
  }
}

/** numpy.gradient of equally spaced samples: one-sided at the ends, central inside. */
export function gradient(y: readonly number[]): number[] {
  const n = y.length;
  if (n < 2) return y.map(() => 0);
  return y.map((_, i) => (i === 0 ? y[1] - y[0] : i === n - 1 ? y[n - 1] - y[n - 2] : (y[i + 1] - y[i - 1]) / 2));
}

export function suggest(points: readonly RangePoint[]): RangeSuggestion {
  const finite = points.filter((p) => Number.isFinite(p.smoothedLoss));
  let min = finite[0];
  for (const p of finite) if (p.smoothedLoss < min.smoothedLoss) min = p;
  const minLossLearningRate = min ? min.learningRate : points[0]?.learningRate ?? NaN;
  const kept = finite.slice(SKIP_START, Math.max(SKIP_START, finite.length - SKIP_END));
  if (kept.length < 2) return { learningRate: null, minLossLearningRate };
  const g = gradient(kept.map((p) => p.smoothedLoss));
  let at = 0;
  for (let i = 1; i < g.length; i++) if (g[i] < g[at]) at = i;
  return { learningRate: kept[at].learningRate, minLossLearningRate };
}
