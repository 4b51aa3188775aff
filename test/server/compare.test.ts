// A comparison over seeds started over the WebSocket (the extension's "Adam: Compare over Seeds..."): the real
// sidecar and trainer on the shipped sample.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServerMessage } from '../../sidecar/protocol';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

describe('compare over the WebSocket', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('compare answers with its group, then starts every (optimizer, seed) run in it, and each ends done', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'compare', optimizers: ['adam', 'sgd'], seeds: [1, 2], config: { data: 'sample', maxSteps: 120 }, requestId: 'cmp' });
    const comparing = await c.next('comparing');
    assert.equal(comparing.requestId, 'cmp');
    assert.deepEqual(comparing.group.optimizers, ['adam', 'sgd']);
    assert.deepEqual(comparing.group.seeds, [1, 2]);
    const started: Array<Extract<ServerMessage, { type: 'started' }>> = [];
    for (let i = 0; i < 4; i++) started.push(await c.next('started', (m) => m.group?.id === comparing.group.id, 60_000));
    assert.deepEqual(started.map((m) => `${m.config.optimizer} ${m.config.seed}`), ['adam 1', 'sgd 1', 'adam 2', 'sgd 2']);
    for (const m of started) assert.equal(m.config.workers, 1);
    const ended = (runId: string) => c.all('state').some((x) => x.runId === runId && x.state === 'done');
    await c.waitFor(() => started.every((m) => ended(m.runId)), 60_000);
    for (const m of started) {
      const record = JSON.parse(readFileSync(join(s.runsDir, m.runId, 'config.json'), 'utf8'));
      assert.equal(record.group.id, comparing.group.id);
    }
    c.send({ type: 'list', requestId: 'l' });
    const runs = await c.next('runs', (m) => m.requestId === 'l');
    const grouped = runs.runs.filter((r) => r.group?.id === comparing.group.id);
    assert.equal(grouped.length, 4);
    for (const r of grouped) assert.equal(typeof r.testAccuracy, 'number');
    await c.close();
  });

  test('a compare naming no seed, a repeated optimizer or a seed in its config is refused with the field named', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    // A message that fails validation is answered before its requestId is read: the errors come in order.
    c.send({ type: 'compare', optimizers: ['adam', 'sgd'], seeds: [], config: {}, requestId: 'a' });
    assert.match((await c.next('error')).message, /seeds must hold at least one seed/);
    c.send({ type: 'compare', optimizers: ['adam', 'adam'], seeds: [1], config: {}, requestId: 'b' });
    assert.match((await c.next('error')).message, /optimizers must not name an optimizer twice/);
    c.send({ type: 'compare', optimizers: ['adam', 'sgd'], seeds: [1], config: { seed: 3 }, requestId: 'c' } as never);
    const error = await c.next('error');
    assert.match(error.message, /unknown field seed/);
    assert.equal(error.field, 'config.seed');
    await c.close();
  });
});
