import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appliedLabel, formatNumber, markersFromApplied } from '../../webview/markers';
import type { AppliedMessage } from '../../sidecar/protocol';

const applied = (step: number, changes: AppliedMessage['changes'], runId = 'r1'): AppliedMessage => ({ type: 'applied', runId, step, changes });

test('a learning-rate change is labelled "lr 0.001 → 0.003"', () => {
  assert.equal(appliedLabel({ learningRate: { from: 0.001, to: 0.003 } }), 'lr 0.001 → 0.003');
});

test('several changes in one message are listed with the paper\'s symbols', () => {
  assert.equal(appliedLabel({ beta1: { from: 0.9, to: 0.95 }, epsilon: { from: 1e-8, to: 1e-6 }, batchSize: { from: 4, to: 32 } }), 'β1 0.9 → 0.95, ε 1e-8 → 1e-6, batch 4 → 32');
});

test('numbers are compact and free of float noise', () => {
  assert.equal(formatNumber(0.1 + 0.2), '0.3');
  assert.equal(formatNumber(0.999), '0.999');
  assert.equal(formatNumber(1e-8), '1e-8');
  assert.equal(formatNumber(2.5e-5), '2.5e-5');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(12345), '12350');
});

test('markers are in step order, one per run and step', () => {
  const m = markersFromApplied([
    applied(300, { learningRate: { from: 0.003, to: 0.001 } }),
    applied(100, { learningRate: { from: 0.001, to: 0.003 } }),
    applied(100, { beta2: { from: 0.999, to: 0.99 } }),
    applied(100, { learningRate: { from: 0.001, to: 0.003 } }, 'r2'),
  ]);
  assert.deepEqual(m, [
    { runId: 'r1', step: 100, label: 'lr 0.001 → 0.003, β2 0.999 → 0.99' },
    { runId: 'r2', step: 100, label: 'lr 0.001 → 0.003' },
    { runId: 'r1', step: 300, label: 'lr 0.003 → 0.001' },
  ]);
});
