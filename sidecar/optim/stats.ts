// What the dashboard shows of the optimizer, computed from its state after a step: per layer the RMS of the
// update divided by the learning rate (Adam's trust region: about 1 or less, Kingma & Ba section 2.1), and for
// the Adam family the RMS of m_hat, sqrt(v_hat) and the update. The update is the one optim/adam.ts and
// optim/sgd.ts apply; the dashboard computes none of this itself.
import { LAYER_NAMES, PARAMETERS } from '../nn/spec';
import type { OptimizerStats } from '../protocol';
import { adamUpdate } from './adam';
import { biasCorrectionsOf, type OptimizerHyperparameters } from './hyperparameters';

export interface OptimizerState {
  params: Float32Array;
  m: Float32Array; // Adam's first moment, or SGD's momentum buffer
  v: Float32Array;
  vMax: Float32Array;
}

export function optimizerStats(state: OptimizerState, step: number, h: OptimizerHyperparameters): { updateRatio: Record<string, number>; optimizer: OptimizerStats } {
  const t = Math.max(1, step);
  const { biasCorrection1, biasCorrection2 } = biasCorrectionsOf(h, t);
  const sqrtBiasCorrection2 = Math.sqrt(biasCorrection2);
  const { params, m, v, vMax } = state;
  const sgd = h.optimizer === 'sgd';
  const rmsprop = h.optimizer === 'rmsprop';
  const secondMoment = h.optimizer === 'amsgrad' ? vMax : v;
  const layers: OptimizerStats['layers'] = {};
  const updateRatio: Record<string, number> = {};
  for (const layer of LAYER_NAMES) {
    let sumMHat = 0, sumVHat = 0, sumUpdate = 0, n = 0;
    for (const p of PARAMETERS) {
      if (p.layer !== layer) continue;
      for (let i = p.offset; i < p.offset + p.size; i++) {
        let update: number;
        if (sgd || (rmsprop && h.momentum !== 0)) {
          // Exact for heavy-ball SGD and RMSprop with momentum; for Nesterov the step also holds this step's
          // gradient, which no buffer keeps: lr * buf is its value for a steady gradient.
          update = h.learningRate * m[i];
          if (rmsprop) {
            sumMHat += m[i] * m[i];
            sumVHat += v[i];
          }
        } else if (rmsprop) {
          sumVHat += v[i];
          // Without momentum RMSprop keeps no step: |g| / (sqrt(v) + eps) with |g| taken as its running RMS sqrt(v).
          const root = Math.sqrt(v[i]);
          update = root === 0 ? 0 : (h.learningRate * root) / (root + h.epsilon);
        } else {
          update = adamUpdate(m[i], secondMoment[i], h.learningRate, h.epsilon, biasCorrection1, sqrtBiasCorrection2);
          if (h.optimizer === 'adamw') update += h.learningRate * h.weightDecay * params[i];
          const mHat = m[i] / biasCorrection1;
          sumMHat += mHat * mHat;
          sumVHat += secondMoment[i] / biasCorrection2;
        }
        sumUpdate += update * update;
        n++;
      }
    }
    const updateRms = step === 0 ? 0 : Math.sqrt(sumUpdate / n);
    updateRatio[layer] = updateRms / h.learningRate;
    layers[layer] = { mHatRms: Math.sqrt(sumMHat / n), sqrtVHatRms: Math.sqrt(sumVHat / n), stepRms: updateRms };
  }
  return {
    updateRatio,
    optimizer: { step, learningRate: h.learningRate, beta1: h.beta1, beta2: h.beta2, epsilon: h.epsilon, biasCorrection1, biasCorrection2, layers },
  };
}
