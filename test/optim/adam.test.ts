// optim/: the one statement of each optimizer rule, checked against the rules written out plainly (Kingma & Ba,
// Algorithm 1; torch.optim.SGD) on random configurations, and the dashboard's statistics against the update the
// optimizer really made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamStep, adamUpdate } from '../../sidecar/optim/adam';
import { biasCorrection, OPTIMIZERS, type OptimizerHyperparameters } from '../../sidecar/optim/hyperparameters';
import { rmspropStep } from '../../sidecar/optim/rmsprop';
import { sgdStep } from '../../sidecar/optim/sgd';
import { optimizerStats } from '../../sidecar/optim/stats';
import { LAYER_NAMES, PARAMETERS, PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { Rng } from '../../sidecar/rng';

function randomHyper(rng: Rng, optimizer: OptimizerHyperparameters['optimizer']): OptimizerHyperparameters {
  return {
    optimizer,
    learningRate: Math.exp(rng.uniform(Math.log(1e-4), Math.log(1e-1))),
    beta1: rng.uniform(0, 0.99),
    beta2: rng.uniform(0.9, 0.9999),
    epsilon: Math.exp(rng.uniform(Math.log(1e-10), Math.log(1e-4))),
    weightDecay: rng.nextInt(2) ? 0 : rng.uniform(0, 0.1),
    momentum: rng.uniform(0, 0.99),
    alpha: rng.uniform(0, 0.999),
    biasCorrection: true,
    nesterov: false,
  };
}

const relClose = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300);

test('bias corrections are 1 − β^t', () => {
  assert.equal(biasCorrection(0.9, 1), 1 - 0.9);
  assert.ok(Math.abs(biasCorrection(0.999, 10) - (1 - 0.999 ** 10)) < 1e-15);
  assert.equal(biasCorrection(0.9, 0), 0);
});

test('Adam, AdamW and AMSGrad in float64 follow Kingma & Ba\'s Algorithm 1 (with PyTorch\'s weight decay) on 200 random runs', () => {
  const rng = new Rng(20261201);
  for (let run = 0; run < 200; run++) {
    const optimizer = (['adam', 'adamw', 'amsgrad'] as const)[run % 3];
    const h = randomHyper(rng, optimizer);
    const n = 8;
    const theta = Float64Array.from({ length: n }, () => rng.uniform(-1, 1));
    const m = new Float64Array(n), v = new Float64Array(n), vMax = new Float64Array(n);
    const plain = { theta: Array.from(theta), m: new Array(n).fill(0), v: new Array(n).fill(0), vMax: new Array(n).fill(0) };
    for (let t = 1; t <= 30; t++) {
      const g = Float64Array.from({ length: n }, () => rng.uniform(-1, 1) * 10 ** rng.uniform(-6, 0));
      adamStep(theta, g, m, v, vMax, t, h, 0, n, false);
      for (let i = 0; i < n; i++) {
        let p = plain.theta[i];
        let gi = g[i];
        if (optimizer === 'adamw') p = p * (1 - h.learningRate * h.weightDecay);
        else gi = gi + h.weightDecay * p;
        plain.m[i] = h.beta1 * plain.m[i] + (1 - h.beta1) * gi;
        plain.v[i] = h.beta2 * plain.v[i] + (1 - h.beta2) * gi * gi;
        plain.vMax[i] = Math.max(plain.vMax[i], plain.v[i]);
        const mHat = plain.m[i] / (1 - h.beta1 ** t);
        const vHat = (optimizer === 'amsgrad' ? plain.vMax[i] : plain.v[i]) / (1 - h.beta2 ** t);
        plain.theta[i] = p - (h.learningRate * mHat) / (Math.sqrt(vHat) + h.epsilon);
        assert.ok(relClose(theta[i], plain.theta[i], 1e-12), `run ${run} (${JSON.stringify(h)}) step ${t}: ${theta[i]} vs ${plain.theta[i]}`);
      }
    }
  }
});

test('Adam\'s update is lr · m̂ / (√v̂ + ε), in PyTorch\'s folded form', () => {
  const rng = new Rng(3);
  for (let k = 0; k < 1000; k++) {
    const m = rng.uniform(-1, 1) * 1e-3, v = rng.uniform(0, 1) * 1e-6, lr = rng.uniform(1e-4, 1e-2), eps = 1e-8;
    const t = 1 + rng.nextInt(1000);
    const bc1 = biasCorrection(0.9, t), bc2 = biasCorrection(0.999, t);
    assert.ok(relClose(adamUpdate(m, v, lr, eps, bc1, Math.sqrt(bc2)), (lr * (m / bc1)) / (Math.sqrt(v / bc2) + eps), 1e-12));
  }
});

test('SGD follows torch.optim.SGD (momentum buffer starts as the first gradient; L2 decay) on 100 random runs', () => {
  const rng = new Rng(7);
  for (let run = 0; run < 100; run++) {
    const h = randomHyper(rng, 'sgd');
    const theta = Float64Array.from({ length: 4 }, () => rng.uniform(-1, 1));
    const buf = new Float64Array(4);
    const plain = { theta: Array.from(theta), buf: [0, 0, 0, 0] };
    for (let t = 1; t <= 20; t++) {
      const g = Float64Array.from({ length: 4 }, () => rng.uniform(-1, 1));
      sgdStep(theta, g, buf, t === 1, h);
      for (let i = 0; i < 4; i++) {
        const d = g[i] + h.weightDecay * plain.theta[i];
        plain.buf[i] = t === 1 ? d : h.momentum * plain.buf[i] + d;
        plain.theta[i] -= h.learningRate * plain.buf[i];
        assert.ok(relClose(theta[i], plain.theta[i], 1e-12), `run ${run} step ${t}`);
      }
    }
  }
});

test('the dashboard\'s per-layer step / lr is the RMS of the change the optimizer just made, for every optimizer', () => {
  const rng = new Rng(11);
  for (const optimizer of OPTIMIZERS) {
    const h = { ...randomHyper(rng, optimizer), weightDecay: 0 };
    const params = Float32Array.from({ length: PARAMETER_COUNT }, () => rng.uniform(-0.1, 0.1));
    const m = new Float32Array(PARAMETER_COUNT), v = new Float32Array(PARAMETER_COUNT), vMax = new Float32Array(PARAMETER_COUNT);
    let before = Float32Array.from(params);
    for (let t = 1; t <= 5; t++) {
      before = Float32Array.from(params);
      const g = Float32Array.from({ length: PARAMETER_COUNT }, () => rng.uniform(-1, 1) * 1e-2);
      if (optimizer === 'sgd') sgdStep(params, g, m, t === 1, h);
      else if (optimizer === 'rmsprop') rmspropStep(params, g, m, v, h);
      else adamStep(params, g, m, v, vMax, t, h);
    }
    const stats = optimizerStats({ params, m, v, vMax }, 5, h);
    for (const layer of LAYER_NAMES) {
      let sum = 0, n = 0;
      for (const p of PARAMETERS.filter((q) => q.layer === layer)) {
        for (let i = p.offset; i < p.offset + p.size; i++) { sum += (before[i] - params[i]) ** 2; n++; }
      }
      const made = Math.sqrt(sum / n) / h.learningRate;
      assert.ok(relClose(stats.updateRatio[layer], made, 1e-3), `${optimizer} ${layer}: stats ${stats.updateRatio[layer]} vs the change made ${made}`);
    }
    if (optimizer !== 'sgd' && optimizer !== 'rmsprop') assert.equal(stats.optimizer.biasCorrection1, biasCorrection(h.beta1, 5));
  }
});
