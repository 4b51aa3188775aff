// Live edits over the real socket: every request gets its answer, whether it changed something, nothing, or failed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

describe('live edits over the WebSocket', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('an edit that changes nothing, two edits sent together and a batch-size edit are each answered', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: { data: 'sample', workers: 1, epochs: 100 } });
    const { runId } = await c.next('started');
    await c.next('metrics', (m) => m.runId === runId, 30_000);
    c.send({ type: 'pause', runId });
    await c.next('state', (m) => m.state === 'paused');

    c.send({ type: 'update', runId, learningRate: 1e-3, requestId: 'same' }); // already in force
    const same = await c.next('applied', (m) => m.requestId === 'same', 5_000);
    assert.deepEqual(same.changes, {});

    // Sent back to back: merged into one applied if they meet at the same step boundary, else one each; either
    // way both are answered, and the run ends up with both values.
    c.send({ type: 'update', runId, learningRate: 2e-3, requestId: 'one' });
    c.send({ type: 'update', runId, beta1: 0.8, requestId: 'two' });
    const answer = (id: string) => c.all('applied').find((m) => (m.requestIds ?? []).includes(id));
    await c.waitFor(() => answer('one') !== undefined && answer('two') !== undefined, 5_000);
    const one = answer('one')!, two = answer('two')!;
    assert.equal(one.changes.learningRate?.to, 2e-3);
    assert.equal(two.changes.beta1?.to, 0.8);

    c.send({ type: 'update', runId, batchSize: 1024, requestId: 'big' }); // the sample has 3,000 images: fits
    c.send({ type: 'resume', runId });
    const big = await c.next('applied', (m) => m.requestId === 'big' || (m.requestIds ?? []).includes('big'), 10_000);
    assert.equal(big.changes.batchSize?.to, 1024);
    c.send({ type: 'stop', runId });
    await c.next('state', (m) => m.runId === runId && m.state === 'stopped', 30_000);
    await c.close();
  });
});
