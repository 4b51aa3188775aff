// What each parameter's step is (issue 14 part 4): per layer, histograms over the layer's parameters of
//   effective step  |m̂ / (√v̂ + ε)|  = |Adam's update| / lr   (Kingma & Ba 2015 section 2.1: Adam's trust region,
//                                      parameter by parameter; AMSGrad uses its running maximum of v, AdamW's
//                                      decoupled decay is left out here as it is not part of the rule's ratio)
//   update ratio    |update| / |parameter|                    (the whole update, AdamW's decay included)
// counted into the fixed log bins of stepBins.ts. Computed from the optimizer state the engine keeps in shared
// memory after a step, as optim/stats.ts computes the per-layer RMS: the update is the one that step applied
// (adamUpdate, the one statement of the rule), the parameter the value after it. SGD has no m̂/√v̂, so it has no
// effective-step histogram; its update is lr times the momentum buffer, which SGD without momentum does not keep,
// so such a run has no step histograms at all.
import { LAYER_NAMES, PARAMETERS } from '../nn/spec';
import { adamUpdate } from './adam';
import { biasCorrectionsOf, type OptimizerHyperparameters } from './hyperparameters';
import type { OptimizerState } from './stats';
import { binCount, EFFECTIVE_STEP_BINS, LogBinner, UPDATE_RATIO_BINS } from './stepBins';

export interface LayerStepCounts {
  effectiveStep?: Int32Array;
  updateRatio: Int32Array;
}
export type StepCounts = Record<string, LayerStepCounts>;

const effectiveBins = new LogBinner(EFFECTIVE_STEP_BINS);
const ratioBins = new LogBinner(UPDATE_RATIO_BINS);

/** The optimizers whose update this file states; another one gets no histograms rather than Adam's by mistake. */
const STATED: ReadonlySet<string> = new Set(['adam', 'adamw', 'amsgrad', 'sgd']);

/** True when the optimizer's state holds what the histograms need (see the header). */
export function hasStepHistograms(h: Pick<OptimizerHyperparameters, 'optimizer' | 'momentum' | 'nesterov'>): boolean {
  // Nesterov's step also holds this step's gradient, which no buffer keeps: not stated here either.
  return STATED.has(h.optimizer) && (h.optimizer !== 'sgd' || h.momentum !== 0) && !h.nesterov;
}

/** The histograms after step `step` (t of the last update, >= 1), or null when there are none (see the header). */
export function stepHistograms(state: OptimizerState, step: number, h: OptimizerHyperparameters): StepCounts | null {
  if (step < 1 || !hasStepHistograms(h)) return null;
  const { params, m, v, vMax } = state;
  const sgd = h.optimizer === 'sgd';
  const decoupled = h.optimizer === 'adamw' ? h.learningRate * h.weightDecay : 0;
  const second = h.optimizer === 'amsgrad' ? vMax : v;
  const lr = h.learningRate;
  const eps = h.epsilon;
  const { biasCorrection1, biasCorrection2 } = biasCorrectionsOf(h, step); // both 1 without bias correction (the ablation)
  const sqrtBiasCorrection2 = Math.sqrt(biasCorrection2);
  const out: StepCounts = {};
  for (const layer of LAYER_NAMES) {
    out[layer] = sgd ? { updateRatio: new Int32Array(binCount(UPDATE_RATIO_BINS)) } : { effectiveStep: new Int32Array(binCount(EFFECTIVE_STEP_BINS)), updateRatio: new Int32Array(binCount(UPDATE_RATIO_BINS)) };
  }
  for (const p of PARAMETERS) {
    const ratio = out[p.layer].updateRatio;
    const effective = out[p.layer].effectiveStep;
    for (let i = p.offset; i < p.offset + p.size; i++) {
      let update: number;
      if (effective) {
        const e = adamUpdate(m[i], second[i], 1, eps, biasCorrection1, sqrtBiasCorrection2);
        effective[effectiveBins.index(Math.abs(e))]++;
        update = lr * e + decoupled * params[i];
      } else {
        update = lr * m[i];
      }
      const u = Math.abs(update);
      // A zero update is underflow even on a zero parameter; a non-zero one on a zero parameter overflows.
      ratio[u === 0 ? 0 : ratioBins.index(u / Math.abs(params[i]))]++;
    }
  }
  return out;
}
