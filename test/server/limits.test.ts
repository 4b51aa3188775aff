// What one client may ask of a sidecar, and that a failure that loses work is heard: a cap on runs training at
// once (serve --max-runs), no more worker threads than cores, and a checkpoint that cannot be written reported to
// every subscriber.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

const quick = { data: 'sample', workers: 1, epochs: 100 } as const;

describe('a sidecar with --max-runs 2', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar({ args: ['--max-runs', '2'] });
  });
  after(() => s.kill());

  test('the third run at once is refused with too_many_runs, and none is created for it; one more starts once a run stops', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: quick, requestId: 'a' });
    const a = await c.next('started', (m) => m.requestId === 'a');
    c.send({ type: 'start', config: quick, requestId: 'b' });
    await c.next('started', (m) => m.requestId === 'b');
    c.send({ type: 'start', config: quick, requestId: 'c' });
    const refused = await c.next('error', (m) => m.requestId === 'c');
    assert.equal(refused.code, 'too_many_runs');
    assert.match(refused.message, /2 runs are training in this sidecar, the most it allows \(2\)/);
    c.send({ type: 'list', requestId: 'l' });
    assert.equal((await c.next('runs', (m) => m.requestId === 'l')).runs.length, 2, 'no folder for the refused run');
    c.send({ type: 'stop', runId: a.runId });
    await c.next('state', (m) => m.runId === a.runId && m.state === 'stopped', 30_000);
    c.send({ type: 'start', config: quick, requestId: 'd' });
    const d = await c.next('started', (m) => m.requestId === 'd');
    for (const runId of new Set([d.runId, ...c.all('started').map((m) => m.runId)])) c.send({ type: 'stop', runId });
    await c.waitFor(() => c.all('state').filter((m) => m.state === 'stopped').length >= 3, 30_000);
    await c.close();
  });

  test('serve refuses a bad --max-runs with exit 2, naming the flag', async () => {
    await assert.rejects(startSidecar({ args: ['--max-runs', '0'] }), /--max-runs must be an integer in 1\.\.64, got 0/);
  });
});

describe('worker threads', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('more workers than cores are refused, naming the field and the limit', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: { ...quick, workers: 64 }, requestId: 'w' });
    const refused = await c.next('error', (m) => m.requestId === 'w');
    assert.equal(refused.code, 'bad_config');
    assert.equal(refused.field, 'workers');
    assert.match(refused.message, new RegExp(`workers 64 is more than this machine's ${cpus().length} cores`));
    await c.close();
  });
});

describe('a checkpoint that cannot be written', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('is reported to every subscriber as write_failed, and the run trains on', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: quick });
    const { runId } = await c.next('started');
    await c.next('metrics', (m) => m.runId === runId, 30_000);
    // A folder where latest.ckpt should be: the atomic rename onto it fails, even for root.
    const blocker = join(s.runsDir, runId, 'latest.ckpt');
    mkdirSync(blocker, { recursive: true });
    writeFileSync(join(blocker, 'keep'), 'x');
    c.send({ type: 'pause', runId }); // a pause writes latest.ckpt
    const failed = await c.next('error', (m) => m.code === 'write_failed', 15_000);
    assert.equal(failed.runId, runId);
    assert.match(failed.message, /could not write checkpoint .*latest\.ckpt/);
    assert.match(s.stderr(), /could not write checkpoint/);
    c.send({ type: 'resume', runId });
    await c.next('state', (m) => m.runId === runId && m.state === 'running');
    const m = await c.next('metrics', (x) => x.runId === runId, 15_000);
    assert.ok(m.step > 0, 'the run trains on');
    c.send({ type: 'stop', runId });
    await c.close();
  });
});
