// `detail`: a real sidecar answers a zoomed chart with the run's full detail between two steps, read from the run
// folder (every step's loss from losses.f32, the metrics recorded there), and refuses a range that makes no sense.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig, type MetricsMessage } from '../../sidecar/protocol';
import { RunStore } from '../../sidecar/store/runs';
import { tempDir } from '../store/helpers';
import { startSidecar, TestClient } from './sidecar';

test('a finished run of a million steps: detail gives every step\'s loss in a zoomed range and a summary of a wide one', { timeout: 60_000 }, async () => {
  const runsDir = tempDir();
  const store = new RunStore(runsDir);
  const runId = '20261201-120000-abcdef';
  store.createRun(runId, resolveConfig({ data: 'sample' }, 2));
  const steps = 1_000_000;
  const losses = new Float32Array(steps);
  for (let i = 0; i < steps; i++) losses[i] = 2.3 * Math.exp(-i / 300_000) + 0.2 * Math.sin(i * 0.37);
  for (let at = 0; at < steps; at += 100_000) store.appendLosses(runId, losses.subarray(at, at + 100_000));
  const metrics = (step: number): MetricsMessage => ({
    type: 'metrics', runId, step, epoch: step / 12_500, samplesSeen: step * 4, loss: losses[step - 1], lossMin: 0, lossMax: 3,
    accuracy: 0.5, learningRate: 0.001, samplesPerSec: 15_000, updateRatio: { conv1: 0.5 },
  });
  for (let step = 250; step <= steps; step += 250) store.appendEvent(runId, metrics(step));
  store.appendEvent(runId, { type: 'state', runId, state: 'done', step: steps });

  const sidecar = await startSidecar({ runsDir });
  const c = await TestClient.connect(sidecar.url);
  try {
    await c.next('hello');
    c.send({ type: 'detail', runId, fromStep: 500_000, toStep: 501_500, requestId: 'near' });
    const near = await c.next('detail', (m) => m.requestId === 'near');
    assert.equal(near.loss.steps.length, 1500);
    assert.deepEqual(near.loss.steps.slice(0, 2), [500_001, 500_002]);
    near.loss.mean.forEach((x, i) => assert.equal(x, losses[500_000 + i], `step ${500_001 + i}`));
    assert.deepEqual(near.metrics.map((m) => m.step), [500_250, 500_500, 500_750, 501_000, 501_250, 501_500]);

    c.send({ type: 'detail', runId, fromStep: 0, toStep: 2_000_000, requestId: 'all' });
    const all = await c.next('detail', (m) => m.requestId === 'all');
    assert.ok(all.loss.steps.length <= 2048 && all.loss.steps.length > 1024, `${all.loss.steps.length} buckets`);
    assert.equal(all.loss.steps.at(-1), steps, 'clipped to what was recorded');
    assert.equal(Math.max(...(all.loss.max as number[])), losses.reduce((a, x) => Math.max(a, x), -Infinity));
    assert.ok(all.metrics.length <= 2048);

    c.send({ type: 'detail', runId, fromStep: 10, toStep: 10, requestId: 'empty' });
    const refused = await c.next('error', (m) => m.field === 'toStep'); // a message that fails validation is answered without its requestId
    assert.equal(refused.code, 'bad_message');
    assert.equal(refused.message, 'toStep must be after fromStep');
    c.send({ type: 'detail', runId: '20261201-120000-ffffff', fromStep: 0, toStep: 10, requestId: 'none' });
    assert.equal((await c.next('error', (m) => m.requestId === 'none')).code, 'unknown_run');
  } finally {
    await c.close();
    await sidecar.kill();
  }
});
