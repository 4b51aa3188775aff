import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunData } from '../../webview/runData';
import { SERIES_CAPACITY } from '../../webview/series';
import { metricsColumns, resolveConfig, type MetricsMessage, type EvalMessage } from '../../sidecar/protocol';

const config = resolveConfig({ data: 'sample' }, 2);
const metrics = (step: number, loss = 2, extra: Partial<MetricsMessage> = {}): MetricsMessage => ({
  type: 'metrics', runId: 'r1', step, epoch: step / 1000, samplesSeen: step * 4, loss, lossMin: loss / 2, lossMax: loss * 2,
  accuracy: 0.3, learningRate: 0.001, samplesPerSec: 9000, updateRatio: { conv1: 0.8, fc3: 0.5 }, ...extra,
});
const evalAt = (step: number, epoch: number, testAccuracy: number): EvalMessage => ({
  type: 'eval', runId: 'r1', step, epoch, testLoss: 1.5, testAccuracy, perClassAccuracy: Array(10).fill(testAccuracy),
  confusion: Array.from({ length: 10 }, () => Array(10).fill(1)),
});

test('metrics become loss, band, learning rate, speed and per-layer update-ratio series', () => {
  const r = new RunData('r1', config, 'running', 0);
  r.addMetrics(metrics(100, 2.2));
  r.addMetrics(metrics(200, 2.0));
  assert.deepEqual(r.loss.raw, [{ x: 100, y: 2.2 }, { x: 200, y: 2.0 }]);
  assert.deepEqual(r.lossMin.map((p) => p.y), [1.1, 1.0]);
  assert.deepEqual(r.lossMax.map((p) => p.y), [4.4, 4.0]);
  assert.deepEqual([...r.updateRatio.keys()], ['conv1', 'fc3']);
  assert.deepEqual(r.updateRatio.get('conv1')?.raw, [{ x: 100, y: 0.8 }, { x: 200, y: 0.8 }]);
  assert.equal(r.lastStep, 200);
});

test('a metrics message repeated by a re-subscribe is dropped', () => {
  const r = new RunData('r1', config, 'running', 0);
  assert.equal(r.addMetrics(metrics(100)), true);
  assert.equal(r.addMetrics(metrics(100)), false);
  assert.equal(r.loss.raw.length, 1);
});

test('history replaces the run\'s series in the same arrays the charts hold', () => {
  const r = new RunData('r1', config, 'running', 0);
  r.addMetrics(metrics(100));
  const held = r.loss.raw;
  const heldRatio = r.updateRatio.get('conv1')?.raw;
  r.loadHistory({ type: 'history', runId: 'r1', config, state: 'paused', metrics: metricsColumns([metrics(100, 3), metrics(200, 2.5)]), evals: [evalAt(12500, 1, 0.45)], applied: [] });
  assert.equal(r.loss.raw, held);
  assert.equal(r.updateRatio.get('conv1')?.raw, heldRatio);
  assert.deepEqual(held.map((p) => p.y), [3, 2.5]);
  assert.equal(r.state, 'paused');
  assert.deepEqual(r.testAccuracy, [{ x: 1, y: 0.45 }]);
});

test('test accuracy is a series over epochs, one point per eval', () => {
  const r = new RunData('r1', config, 'running', 0);
  r.addEval(evalAt(25000, 2, 0.55));
  r.addEval(evalAt(12500, 1, 0.45));
  r.addEval(evalAt(12500, 1, 0.45));
  assert.deepEqual(r.testAccuracy, [{ x: 1, y: 0.45 }, { x: 2, y: 0.55 }]);
  assert.equal(r.latestEval?.step, 25000);
});

test('an applied change updates the run\'s current hyperparameters once', () => {
  const r = new RunData('r1', config, 'running', 0);
  const a = { type: 'applied' as const, runId: 'r1', step: 300, changes: { learningRate: { from: 0.001, to: 0.003 } } };
  assert.equal(r.addApplied(a), true);
  assert.equal(r.addApplied({ ...a }), false);
  assert.equal(r.config.learningRate, 0.003);
  assert.equal(r.applied.length, 1);
});

test('the nearest logged step is what "Fork from here" uses', () => {
  const r = new RunData('r1', config, 'running', 0);
  for (const s of [100, 200, 300]) r.addMetrics(metrics(s));
  assert.equal(r.nearestStep(240), 200);
  assert.equal(r.nearestStep(10_000), 300);
});

test('a run of a million steps keeps every series at a fixed size, and its band keeps the extremes', () => {
  const r = new RunData('r1', config, 'running', 0.6);
  const held = r.loss.raw;
  let lowest = Infinity;
  let highest = -Infinity;
  for (let step = 1; step <= 1_000_000; step += 7) {
    const loss = 2 + Math.sin(step / 5000);
    const m = metrics(step, loss, { lossMin: loss - (step === 500_004 ? 1.5 : 0.1), lossMax: loss + (step === 700_001 ? 9 : 0.1) });
    lowest = Math.min(lowest, m.lossMin);
    highest = Math.max(highest, m.lossMax);
    r.addMetrics(m);
  }
  assert.equal(r.loss.raw, held, 'the charts keep their arrays');
  for (const s of [r.loss.raw, r.loss.smoothed, r.lossMin, r.lossMax, r.accuracy.raw, r.learningRate.raw, r.samplesPerSec.raw, r.updateRatio.get('fc3')!.raw]) {
    assert.ok(s.length <= SERIES_CAPACITY && s.length > SERIES_CAPACITY / 2, `${s.length} points`);
  }
  assert.equal(Math.min(...r.lossMin.map((p) => p.y)), lowest);
  assert.equal(Math.max(...r.lossMax.map((p) => p.y)), highest);
  assert.equal(r.loss.raw[r.loss.raw.length - 1].x, r.lastStep);
  assert.equal(r.nearestStep(1_000_000), r.lastStep);
});
