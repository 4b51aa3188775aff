// A socket that names runs in its URL (`?run=`, as the browser dashboard does for the runs it is about to show) is
// subscribed to them as it opens: hello says which, and their histories follow it without a subscribe. A real
// `serve` process and real sockets; the runs folder is written with the product's run store.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { resolveConfig, type MetricsMessage } from '../../sidecar/protocol';
import { Rng } from '../../sidecar/rng';
import { MAX_RUNS_AT_CONNECT } from '../../sidecar/server';
import { RunStore } from '../../sidecar/store/runs';
import { tempDir } from '../store/helpers';
import { delay, startSidecar, TestClient } from './sidecar';

const config = resolveConfig({ data: 'sample', maxSteps: 1000 }, 2);

function finishedRun(store: RunStore, runId: string, steps: number): void {
  store.createRun(runId, config);
  store.appendEvent(runId, { type: 'state', runId, state: 'running' });
  for (let s = 1; s <= steps; s++) {
    const m: MetricsMessage = { type: 'metrics', runId, step: s * 10, epoch: 0, samplesSeen: s * 40, loss: 2 - s / 100, lossMin: 1, lossMax: 3, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1000, updateRatio: { conv1: 0.5 } };
    store.appendEvent(runId, m);
  }
  store.appendEvent(runId, { type: 'state', runId, state: 'done', step: steps * 10 });
}

function socketUrl(base: string, names: string[]): string {
  const url = new URL(base);
  for (const n of names) url.searchParams.append('run', n);
  return url.href;
}

test('runs named in the socket URL are subscribed as it opens, in order: hello lists them and their histories follow; bad names get errors that name them', async () => {
  const runsDir = tempDir();
  const store = new RunStore(runsDir);
  const runs = Array.from({ length: 10 }, (_, i) => `r${i}`);
  runs.forEach((id, i) => finishedRun(store, id, 3 + i));
  const sidecar = await startSidecar({ runsDir });
  after(() => sidecar.kill());

  const rng = new Rng(13);
  for (let draw = 0; draw < 12; draw++) {
    // Names drawn at random: runs that exist, runs that do not, strings that are not run ids, and repeats.
    const names: string[] = [];
    const count = rng.nextInt(14);
    for (let i = 0; i < count; i++) {
      const kind = rng.nextInt(4);
      if (kind === 0 || kind === 1) names.push(runs[rng.nextInt(runs.length)]);
      else if (kind === 2) names.push(`missing-${rng.nextInt(5)}`);
      else names.push(['a b', '../r1', '', 'x'.repeat(200), 'r1/'][rng.nextInt(5)]);
    }
    const considered = [...new Set(names)].slice(0, MAX_RUNS_AT_CONNECT);
    const expected = considered.filter((n) => runs.includes(n));
    const client = await TestClient.connect(socketUrl(sidecar.url, names));
    const hello = await client.next('hello');
    assert.equal(hello.runs.length, runs.length);
    if (names.length === 0) assert.equal(hello.subscribed, undefined, 'no names, no list');
    else assert.deepEqual(hello.subscribed, expected, `names ${JSON.stringify(names)}`);
    for (const id of expected) {
      const h = await client.next('history');
      assert.equal(h.runId, id, 'histories come in the order the URL names them');
      assert.equal(h.state, 'done');
      assert.equal(h.metrics.step.length, 3 + runs.indexOf(id));
    }
    const bads = considered.filter((n) => !runs.includes(n));
    await client.waitFor(() => client.all('error').length >= bads.length, 5000);
    for (const bad of bads) {
      const e = client.all('error').find((m) => m.message.includes(bad === '' ? '""' : bad.slice(0, 100)));
      assert.ok(e, `an error names ${JSON.stringify(bad)}; got ${JSON.stringify(client.all('error'))}`);
      assert.equal(e.code, bad.startsWith('missing-') ? 'unknown_run' : 'bad_message');
    }
    assert.equal(client.all('error').length, considered.length - expected.length, 'one error per bad name considered, none for those past the cap');
    await delay(50);
    assert.equal(client.all('history').length, expected.length, 'no history but those named');
    // Subscribed as if it had asked: a new metrics line of a named run would reach it. Asking again sends the
    // history again (the page does not: hello told it).
    if (expected.length) {
      client.send({ type: 'unsubscribe', runId: expected[0] });
      client.send({ type: 'subscribe', runId: expected[0] });
      assert.equal((await client.next('history')).runId, expected[0]);
    }
    await client.close();
  }
  assert.doesNotMatch(sidecar.stderr(), /internal error/);
});

test('a named run is subscribed like one asked for: a run that trains in this sidecar streams its metrics to the socket that named it', async () => {
  const sidecar = await startSidecar();
  after(() => sidecar.kill());
  const starter = await TestClient.connect(sidecar.url);
  await starter.next('hello');
  starter.send({ type: 'start', requestId: 1, config: { data: 'sample', maxSteps: 400, logEvery: 10, batchSize: 4, seed: 2, workers: 1 } });
  const started = await starter.next('started');
  const watcher = await TestClient.connect(socketUrl(sidecar.url, [started.runId]));
  const hello = await watcher.next('hello');
  assert.deepEqual(hello.subscribed, [started.runId]);
  const history = await watcher.next('history');
  assert.equal(history.runId, started.runId);
  const m = await watcher.next('metrics', (x) => x.runId === started.runId, 60_000);
  assert.ok(m.step > 0);
  assert.ok(history.metrics.step.every((step) => step < m.step), 'live metrics continue the history');
  await watcher.close();
  await starter.close();
});
