// The range test over the real socket of a real sidecar, beside a training run: it answers an lrFound per optimizer
// asked, from the run's data, batch and seed on a fresh net, and the run it sits beside trains exactly as it would
// have without it (the same parameters at the end, bit for bit).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rangeLearningRate, suggest } from '../../sidecar/optim/lrRange';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

describe('lrFind over the WebSocket', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  async function trainRun(c: TestClient, during?: (runId: string) => Promise<void>): Promise<Float32Array> {
    c.send({ type: 'start', config: { data: 'sample', workers: 1, epochs: 10, maxSteps: 6000, seed: 3, schedule: 'cosine' } });
    const { runId } = await c.next('started');
    await c.next('metrics', (m) => m.runId === runId, 30_000);
    await during?.(runId);
    await c.next('state', (m) => m.runId === runId && m.state === 'done', 60_000);
    return readCheckpoint(join(s.runsDir, runId, 'latest.ckpt')).params;
  }

  test('Adam and SGD are tested beside a run, each answered with its points and suggestion; the run is untouched', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    let asked = '';
    let lastAnswer: unknown;
    const beside = await trainRun(c, async (runId) => {
      asked = runId;
      c.send({ type: 'lrFind', runId, optimizers: ['adam', 'sgd'], minLearningRate: 1e-5, maxLearningRate: 1, steps: 80, requestId: 'find' });
      const adam = await c.next('lrFound', (m) => m.requestId === 'find', 60_000);
      const sgd = await c.next('lrFound', (m) => m.requestId === 'find', 60_000);
      for (const [found, optimizer] of [[adam, 'adam'], [sgd, 'sgd']] as const) {
        assert.equal(found.optimizer, optimizer);
        assert.equal(found.runId, runId);
        assert.ok(found.points.length >= 2 && found.points.length <= 80);
        found.points.forEach((p, i) => assert.equal(p.learningRate, rangeLearningRate(1e-5, 1, 80, i)));
        const expected = suggest(found.points);
        assert.equal(found.learningRate, expected.learningRate);
        assert.equal(found.minLossLearningRate, expected.minLossLearningRate);
      }
      lastAnswer = sgd;
      // The same net, data order and first batch: both start from the same loss.
      assert.equal(adam.points[0].loss, sgd.points[0].loss);
    });
    // It ran beside the run: the run was still training when the last answer came.
    const answered = c.received.indexOf(lastAnswer as (typeof c.received)[number]);
    assert.ok(answered > 0 && c.received.slice(answered).some((m) => m.type === 'metrics' && m.runId === asked), 'the run trained on after the range test');
    const alone = await trainRun(c);
    assert.deepEqual(beside, alone, 'the run trained beside the range test ends with the same parameters as one trained alone');
    assert.ok(asked);

    c.send({ type: 'lrFind', runId: asked, optimizers: ['adam'], minLearningRate: 0.1, maxLearningRate: 0.01, requestId: 'empty' });
    const empty = await c.next('error', (m) => m.requestId === 'empty', 10_000);
    assert.equal(empty.code, 'bad_config');
    assert.match(empty.message, /minLearningRate 0.1 must be below maxLearningRate 0.01/);
    c.send({ type: 'lrFind', runId: 'no-such-run', optimizers: ['adam'], requestId: 'unknown' });
    const unknown = await c.next('error', (m) => m.requestId === 'unknown', 10_000);
    assert.equal(unknown.code, 'unknown_run');
    await c.close();
  });
});
