// Runs of the same data in one sidecar share one loaded copy of it (issue 12, item 5): a real `adam-trainer serve`,
// real sockets, the shipped sample and a binary-layout folder on disk. What is observed is what the sidecar reports
// to every client in its `system` message (the datasets it holds, the runs on each, the loads it made) and what it
// logs on stderr; the numbers a shared run trains to are compared with the same run alone on the command line.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { run } from '../commands/helpers';
import { batchFile } from '../data/helpers';
import { tempDir } from '../store/helpers';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

const long = { data: 'sample', workers: 1, epochs: 100 } as const;
type System = Extract<Awaited<ReturnType<TestClient['next']>>, { type: 'system' }>;

/** The next `system` message that satisfies `match` (they come every 2 s). */
function system(c: TestClient, match: (m: System) => boolean): Promise<System> {
  return c.next('system', (m) => match(m as System), 60_000) as Promise<System>;
}

const lines = (s: Sidecar, prefix: string) => s.stderr().split('\n').filter((l) => l.includes(`serve: ${prefix}`));

describe('runs of the same data in one sidecar', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('three runs load it once; one that stops leaves it to the others; the last one frees it, and the next run loads it again', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    for (const seed of [1, 2, 3]) c.send({ type: 'start', config: { ...long, seed }, requestId: `r${seed}` });
    const ids: string[] = [];
    for (const seed of [1, 2, 3]) ids.push((await c.next('started', (m) => m.requestId === `r${seed}`)).runId);
    await c.waitFor(() => ids.every((id) => c.all('state').some((m) => m.runId === id && m.state === 'running')), 120_000);
    const shared = await system(c, (m) => m.datasets?.[0]?.runs === 3);
    assert.equal(shared.datasets!.length, 1, JSON.stringify(shared.datasets));
    assert.match(shared.datasets![0].source, /built-in sample/);
    assert.equal(shared.datasetLoads, 1, 'three runs, one load');
    assert.equal(lines(s, 'loaded built-in sample').length, 1, s.stderr());

    c.send({ type: 'stop', runId: ids[0] });
    await c.next('state', (m) => m.runId === ids[0] && m.state === 'stopped', 30_000);
    const stoppedAt = c.received.length;
    await system(c, (m) => m.datasets?.[0]?.runs === 2);
    assert.equal(lines(s, 'released').length, 0, 'nothing is freed while two runs use the data');
    // The other two train on, on the data the stopped run no longer holds.
    await c.waitFor(() => ids.slice(1).every((id) => c.received.slice(stoppedAt).some((m) => m.type === 'metrics' && m.runId === id)), 30_000);

    for (const id of ids.slice(1)) c.send({ type: 'stop', runId: id });
    await c.waitFor(() => ids.every((id) => c.all('state').some((m) => m.runId === id && m.state === 'stopped')), 30_000);
    const freed = await system(c, (m) => m.datasets?.length === 0);
    assert.equal(freed.datasetLoads, 1);
    assert.equal(lines(s, 'released built-in sample').length, 1, s.stderr());

    c.send({ type: 'start', config: { ...long, seed: 4 }, requestId: 'again' });
    const again = await c.next('started', (m) => m.requestId === 'again');
    const reloaded = await system(c, (m) => m.datasets?.[0]?.runs === 1);
    assert.equal(reloaded.datasetLoads, 2, 'the freed copy was not kept: the next run loaded the data again');
    c.send({ type: 'stop', runId: again.runId });
    await c.next('state', (m) => m.runId === again.runId && m.state === 'stopped', 30_000);
    await c.close();
  });

  test('runs on different data never share it', async () => {
    // A second dataset: the binary layout, 1,000 training and 100 test records.
    const dir = join(tempDir(), 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    const labels = (n: number) => Array.from({ length: n }, (_, i) => i % 10);
    for (let f = 1; f <= 5; f++) writeFileSync(join(dir, `data_batch_${f}.bin`), batchFile(labels(200), f * 1000));
    writeFileSync(join(dir, 'test_batch.bin'), batchFile(labels(100), 0));
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    const before = (await system(c, () => true)).datasetLoads ?? 0;
    c.send({ type: 'start', config: { ...long, seed: 1 }, requestId: 'sample' });
    c.send({ type: 'start', config: { ...long, seed: 1, data: dir }, requestId: 'binary' });
    const ids = [(await c.next('started', (m) => m.requestId === 'sample')).runId, (await c.next('started', (m) => m.requestId === 'binary')).runId];
    await c.waitFor(() => ids.every((id) => c.all('state').some((m) => m.runId === id && m.state === 'running')), 120_000);
    const both = await system(c, (m) => m.datasets?.length === 2);
    assert.deepEqual(both.datasets!.map((d) => d.runs), [1, 1]);
    assert.deepEqual(both.datasets!.map((d) => /built-in sample/.test(d.source) || d.source.includes(dir)), [true, true]);
    assert.equal(both.datasetLoads, before + 2);
    for (const id of ids) c.send({ type: 'stop', runId: id });
    await c.waitFor(() => ids.every((id) => c.all('state').some((m) => m.runId === id && m.state === 'stopped')), 30_000);
    await system(c, (m) => m.datasets?.length === 0);
    await c.close();
  });
});

describe('a run that shares its data', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('trains to the same parameters, bit for bit, as the same run alone on the command line', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    // The second run starts while the first trains: its engine is placed and its kernels instantiated in the memory
    // the first one's workers are computing in.
    const runs = [{ seed: 5, epochs: 8 }, { seed: 6, epochs: 1 }];
    const ids: string[] = [];
    for (const r of runs) {
      c.send({ type: 'start', config: { data: 'sample', workers: 1, ...r }, requestId: `s${r.seed}` });
      ids.push((await c.next('started', (m) => m.requestId === `s${r.seed}`)).runId);
      await c.next('metrics', (m) => m.runId === ids[ids.length - 1], 120_000);
    }
    await c.waitFor(() => ids.every((id) => c.all('state').some((m) => m.runId === id && m.state === 'done')), 240_000);
    // An epoch of the sample can end before the next system message: one load for both is the proof they shared
    // (had the first let go before the second came, the second would have loaded the data again).
    const at = c.received.length;
    await c.waitFor(() => c.received.slice(at).some((m) => m.type === 'system'), 10_000);
    assert.equal((c.received.slice(at).find((m) => m.type === 'system') as System).datasetLoads, 1);
    await c.close();
    const home = tempDir('adam-shared-cli-');
    for (const [k, { seed, epochs }] of runs.entries()) {
      const params = readCheckpoint(join(s.runsDir, ids[k], 'latest.ckpt')).params;
      const shared = createHash('sha256').update(new Uint8Array(Float32Array.from(params).buffer)).digest('hex');
      const alone = await run(['train', '--data', 'sample', '--epochs', String(epochs), '--workers', '1', '--seed', String(seed), '--json'], { ADAM_TRAINER_HOME: home });
      assert.equal(alone.code, 0, alone.stderr);
      assert.equal(shared, alone.lines[alone.lines.length - 1].parametersSha256, `seed ${seed}, ${epochs} epochs`);
    }
  });
});
