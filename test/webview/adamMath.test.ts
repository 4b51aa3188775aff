import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamSnapshot, biasCorrection } from '../../webview/adamMath';
import { resolveConfig, type MetricsMessage } from '../../sidecar/protocol';

const config = resolveConfig({}, 1);
const metrics: MetricsMessage = { type: 'metrics', runId: 'r', step: 10, epoch: 0, samplesSeen: 40, loss: 2, lossMin: 2, lossMax: 2, accuracy: 0.1, learningRate: 0.002, samplesPerSec: 1, updateRatio: {} };

test('bias corrections are 1 − β^t', () => {
  assert.equal(biasCorrection(0.9, 1), 1 - 0.9);
  assert.ok(Math.abs(biasCorrection(0.999, 10) - (1 - 0.999 ** 10)) < 1e-15);
  assert.equal(biasCorrection(0.9, 0), 0);
});

test('without optimizer stats the panel derives t, lr and the corrections from the run', () => {
  const s = adamSnapshot(config, metrics);
  assert.equal(s.source, 'derived');
  assert.equal(s.step, 10);
  assert.equal(s.learningRate, 0.002);
  assert.equal(s.biasCorrection1, biasCorrection(0.9, 10));
});

test('the sidecar\'s optimizer stats are shown as sent', () => {
  const optimizer = { step: 10, learningRate: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, biasCorrection1: 0.65, biasCorrection2: 0.00995, layers: { conv1: { mHatRms: 1e-3, sqrtVHatRms: 2e-3, stepRms: 9e-4 } } };
  const s = adamSnapshot(config, { ...metrics, optimizer });
  assert.equal(s.source, 'sidecar');
  assert.deepEqual(s.layers, optimizer.layers);
});
