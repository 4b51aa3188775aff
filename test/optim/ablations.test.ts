// Issue 14's ablations as optimizers: Adam without bias correction against its update formula in float64 (PyTorch
// has no such optimizer), RMSprop and SGD with Nesterov momentum against torch.optim's rules written out plainly, on
// random configurations. PyTorch itself checks them through check-reference (test/reference/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { adamStep } from '../../sidecar/optim/adam';
import { variantError, type OptimizerHyperparameters } from '../../sidecar/optim/hyperparameters';
import { rmspropStep } from '../../sidecar/optim/rmsprop';
import { sgdStep } from '../../sidecar/optim/sgd';

const relClose = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300);
const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);
const gradients = (n: number, steps: number) => fc.array(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }), { minLength: steps, maxLength: steps });
const base: OptimizerHyperparameters = { optimizer: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, momentum: 0, alpha: 0.99, biasCorrection: true, nesterov: false };

test('Adam without bias correction steps lr · m / (√v + ε) with the raw moments, in float64, on random configurations', () => {
  fc.assert(fc.property(
    fc.constantFrom('adam', 'adamw', 'amsgrad'), logUniform(1e-4, 1e-1), fc.double({ min: 0, max: 0.99, noNaN: true }), fc.double({ min: 0.9, max: 0.9999, noNaN: true }),
    logUniform(1e-10, 1e-4), fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })), gradients(6, 25),
    (optimizer, learningRate, beta1, beta2, epsilon, weightDecay, grads) => {
      const h = { ...base, optimizer, learningRate, beta1, beta2, epsilon, weightDecay, biasCorrection: false };
      const theta = Float64Array.from({ length: 6 }, (_, i) => Math.sin(i + 1));
      const m = new Float64Array(6), v = new Float64Array(6), vMax = new Float64Array(6);
      const plain = { theta: Array.from(theta), m: new Array(6).fill(0), v: new Array(6).fill(0), vMax: new Array(6).fill(0) };
      grads.forEach((row, k) => {
        adamStep(theta, Float64Array.from(row), m, v, vMax, k + 1, h, 0, 6, false);
        for (let i = 0; i < 6; i++) {
          let p = plain.theta[i];
          let g = row[i];
          if (optimizer === 'adamw') p *= 1 - learningRate * weightDecay;
          else g += weightDecay * p;
          plain.m[i] = beta1 * plain.m[i] + (1 - beta1) * g;
          plain.v[i] = beta2 * plain.v[i] + (1 - beta2) * g * g;
          plain.vMax[i] = Math.max(plain.vMax[i], plain.v[i]);
          plain.theta[i] = p - (learningRate * plain.m[i]) / (Math.sqrt(optimizer === 'amsgrad' ? plain.vMax[i] : plain.v[i]) + epsilon);
          assert.ok(relClose(theta[i], plain.theta[i], 1e-12), `${optimizer} step ${k + 1} [${i}]: ${theta[i]} vs ${plain.theta[i]}`);
        }
      });
    },
  ), { seed: 14, numRuns: 200 });
});

test('without bias correction Adam\'s first step is (1 − β1)/√(1 − β2) of the corrected one (3.16x larger at the defaults)', () => {
  const g = Float64Array.of(0.3, -2e-3, 5);
  const step = (biasCorrection: boolean) => {
    const theta = new Float64Array(3);
    adamStep(theta, g, new Float64Array(3), new Float64Array(3), null, 1, { ...base, epsilon: 0, biasCorrection }, 0, 3, false);
    return theta;
  };
  const corrected = step(true), raw = step(false);
  for (let i = 0; i < 3; i++) assert.ok(relClose(raw[i] / corrected[i], 0.1 / Math.sqrt(0.001), 1e-12), `${raw[i]} / ${corrected[i]}`);
});

test('RMSprop follows torch.optim.RMSprop (square_avg, eps outside the root, momentum buffer, L2 decay) on random configurations', () => {
  fc.assert(fc.property(
    logUniform(1e-4, 1e-1), fc.double({ min: 0, max: 0.999, noNaN: true }), logUniform(1e-10, 1e-2), fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.99, noNaN: true })),
    fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })), gradients(5, 20),
    (learningRate, alpha, epsilon, momentum, weightDecay, grads) => {
      const h = { ...base, optimizer: 'rmsprop' as const, learningRate, alpha, epsilon, momentum, weightDecay };
      const theta = Float64Array.from({ length: 5 }, (_, i) => Math.cos(i));
      const buf = new Float64Array(5), sq = new Float64Array(5);
      const plain = { theta: Array.from(theta), buf: new Array(5).fill(0), sq: new Array(5).fill(0) };
      grads.forEach((row, k) => {
        rmspropStep(theta, Float64Array.from(row), buf, sq, h, 0, 5, false);
        for (let i = 0; i < 5; i++) {
          const g = row[i] + weightDecay * plain.theta[i];
          plain.sq[i] = alpha * plain.sq[i] + (1 - alpha) * g * g;
          const avg = Math.sqrt(plain.sq[i]) + epsilon;
          if (momentum > 0) {
            plain.buf[i] = momentum * plain.buf[i] + g / avg;
            plain.theta[i] -= learningRate * plain.buf[i];
          } else plain.theta[i] -= (learningRate * g) / avg;
          assert.ok(relClose(theta[i], plain.theta[i], 1e-12), `step ${k + 1} [${i}]: ${theta[i]} vs ${plain.theta[i]}`);
        }
      });
    },
  ), { seed: 15, numRuns: 200 });
});

test('SGD with nesterov steps along d + momentum · buf, as torch.optim.SGD(nesterov=True), on random configurations', () => {
  fc.assert(fc.property(
    logUniform(1e-4, 1e-1), fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.1, noNaN: true })), gradients(4, 20),
    (learningRate, momentum, weightDecay, grads) => {
      const h = { ...base, optimizer: 'sgd' as const, learningRate, momentum, weightDecay, nesterov: true };
      const theta = Float64Array.from({ length: 4 }, (_, i) => i - 1.5);
      const buf = new Float64Array(4);
      const plain = { theta: Array.from(theta), buf: new Array(4).fill(0) };
      grads.forEach((row, k) => {
        sgdStep(theta, Float64Array.from(row), buf, k === 0, h);
        for (let i = 0; i < 4; i++) {
          const d = row[i] + weightDecay * plain.theta[i];
          plain.buf[i] = k === 0 ? d : momentum * plain.buf[i] + d;
          plain.theta[i] -= learningRate * (d + momentum * plain.buf[i]);
          assert.ok(relClose(theta[i], plain.theta[i], 1e-12), `step ${k + 1} [${i}]: ${theta[i]} vs ${plain.theta[i]}`);
        }
      });
    },
  ), { seed: 16, numRuns: 200 });
});

test('a variant that does not fit its optimizer is refused with a sentence naming the fields', () => {
  assert.match(variantError({ optimizer: 'adam', momentum: 0.9, nesterov: true, biasCorrection: true }) ?? '', /nesterov applies to sgd only/);
  assert.match(variantError({ optimizer: 'sgd', momentum: 0, nesterov: true, biasCorrection: true }) ?? '', /nesterov needs momentum > 0/);
  assert.match(variantError({ optimizer: 'rmsprop', momentum: 0, nesterov: false, biasCorrection: false }) ?? '', /biasCorrection false applies to adam, adamw and amsgrad only/);
  assert.equal(variantError({ optimizer: 'amsgrad', momentum: 0, nesterov: false, biasCorrection: false }), undefined);
  assert.equal(variantError({ optimizer: 'sgd', momentum: 0.9, nesterov: true, biasCorrection: true }), undefined);
});
