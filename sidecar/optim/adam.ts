// Adam (Kingma & Ba, 2015, Algorithm 1) exactly as PyTorch's torch.optim.Adam / AdamW compute it:
//   g <- g + wd*p                      (Adam's L2 weight decay)   |  p <- p*(1 - lr*wd)  (AdamW, decoupled)
//   m <- beta1*m + (1-beta1)*g         first-moment estimate
//   v <- beta2*v + (1-beta2)*g^2       second-moment estimate
//   vMax <- max(vMax, v)               (AMSGrad only; v below means vMax then)
//   p <- p - (lr / (1-beta1^t)) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
// i.e. lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded in as PyTorch does. With
// h.biasCorrection false (the ablation: what ConvNetJS's Adam does) both corrections are 1: p <- p - lr * m / (sqrt(v) + eps),
// whose first steps are about (1 - beta1) / sqrt(1 - beta2) = 3.2 times too large at the defaults (m/sqrt(v) starts at
// 0.1 g / 0.032 |g|), the instability section 3 warns of when beta2 is close to 1. Generic over
// Float32Array (training) and Float64Array (the reference's float64 optimizer check): the same code.
// Hyperparameters are read at every call, so they can change between any two steps. This file is the one
// statement of the rule: the WebAssembly kernel (kernels/assembly/optim.ts) mirrors it, and the statistics
// the dashboard shows (optim/stats.ts) use adamUpdate below.
import type { FloatArray } from '../floatArray';
import { biasCorrectionsOf, type OptimizerHyperparameters } from './hyperparameters';

/** Below this, m and v are flushed to zero: subnormal floats are very slow and far below float32 tolerance. */
export const FLUSH_BELOW = 1e-30;

/** The amount Adam subtracts from a parameter with moments m and v: lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps). */
export function adamUpdate(m: number, v: number, learningRate: number, epsilon: number, biasCorrection1: number, sqrtBiasCorrection2: number): number {
  return (learningRate / biasCorrection1) * (m / (Math.sqrt(v) / sqrtBiasCorrection2 + epsilon));
}

/**
 * One Adam, AdamW or AMSGrad step (h.optimizer) for parameters [start, end). `step` is t after this update (1 for
 * the first). grad is read, not changed.
 */
export function adamStep<T extends FloatArray>(
  params: T, grad: T, m: T, v: T, vMax: T | null, step: number, h: OptimizerHyperparameters, start = 0, end = params.length, flush = true,
): void {
  const { learningRate: lr, beta1, beta2, epsilon: eps, weightDecay: wd } = h;
  const decoupled = h.optimizer === 'adamw';
  const amsgrad = h.optimizer === 'amsgrad';
  const { biasCorrection1, biasCorrection2 } = biasCorrectionsOf(h, step);
  const sqrtBiasCorrection2 = Math.sqrt(biasCorrection2);
  // Training runs in float32 as PyTorch does: round where PyTorch's float32 ops would store a value.
  const round = params instanceof Float32Array ? Math.fround : (x: number) => x;
  // PyTorch's param.mul_(1 - lr * wd) takes the factor as a float32 scalar: rounded before the product, not only after
  // (kept in float64, about one weight in six was an ulp from PyTorch's at every step: test/optim/adamw.pytorch.test.ts).
  const decay = decoupled ? round(1 - lr * wd) : 1;
  const l2 = decoupled ? 0 : wd;
  for (let i = start; i < end; i++) {
    let p = params[i];
    if (decay !== 1) p = round(p * decay);
    const g = l2 !== 0 ? round(grad[i] + l2 * p) : grad[i];
    let mi = beta1 * m[i] + (1 - beta1) * g;
    let vi = beta2 * v[i] + (1 - beta2) * g * g;
    if (flush) {
      if (Math.abs(mi) < FLUSH_BELOW) mi = 0;
      if (vi < FLUSH_BELOW) vi = 0;
    }
    m[i] = mi;
    v[i] = vi;
    let vUsed = v[i];
    if (amsgrad && vMax) {
      if (vUsed > vMax[i]) vMax[i] = vUsed;
      vUsed = vMax[i];
    }
    params[i] = p - adamUpdate(m[i], vUsed, lr, eps, biasCorrection1, sqrtBiasCorrection2);
  }
}
