// The numbers the "Adam" panel shows next to the update rule (Kingma & Ba 2015, Algorithm 1):
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  m̂ = m/(1−β1^t);  v̂ = v/(1−β2^t);  θ ← θ − lr·m̂/(√v̂+ε)
// Taken from `metrics.optimizer` when the sidecar sends it; otherwise the scalars are derived from the
// run's configuration and step, and the per-layer moments are unknown.
import type { MetricsMessage, OptimizerStats, RunConfig } from '../sidecar/protocol';

export interface AdamSnapshot {
  step: number;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  biasCorrection1: number;
  biasCorrection2: number;
  layers: OptimizerStats['layers'];
  /** Where the per-layer numbers came from. */
  source: 'sidecar' | 'derived';
}

export function biasCorrection(beta: number, step: number): number {
  return 1 - Math.pow(beta, step);
}

export function adamSnapshot(config: RunConfig, metrics: MetricsMessage | undefined): AdamSnapshot {
  const o = metrics?.optimizer;
  if (o) return { ...o, source: 'sidecar' };
  const step = metrics?.step ?? 0;
  const learningRate = metrics?.learningRate ?? config.learningRate;
  return {
    step,
    learningRate,
    beta1: config.beta1,
    beta2: config.beta2,
    epsilon: config.epsilon,
    biasCorrection1: biasCorrection(config.beta1, step),
    biasCorrection2: biasCorrection(config.beta2, step),
    layers: {},
    source: 'derived',
  };
}
