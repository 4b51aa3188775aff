// Why a run ended travels with every message that tells of its end: the `state` message, the run list and the
// history a subscriber gets. A page that let go of a run (a background tab) learns of its failure from the list or the
// history, and must be able to say why (webview/dashboard.ts `ended`). Real serve, real socket, a real image folder
// with a file in it that is not an image.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../store/helpers';
import { writeImageFolder } from '../data/helpers';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

const sidecars: Sidecar[] = [];
after(async () => { for (const s of sidecars) await s.kill(); });

test('a failed run\'s reason comes with its state, the run list and its history, and again after a restart', async () => {
  const data = tempDir();
  mkdirSync(data, { recursive: true });
  writeImageFolder(data, 1, 1);
  const stray = join(data, 'train', 'dog', 'notes.txt');
  writeFileSync(stray, 'remember to label these');

  const a = await startSidecar();
  sidecars.push(a);
  const c = await TestClient.connect(a.url);
  c.send({ type: 'start', config: { data, seed: 1, maxSteps: 10 } });
  const { runId } = await c.next('started');
  const failed = await c.next('state', (m) => m.runId === runId && m.state === 'failed', 60_000);
  assert.ok(failed.reason?.includes(`${stray} is not a JPEG or PNG image`), failed.reason);

  c.send({ type: 'list' });
  const listed = (await c.next('runs', (m) => m.runs.some((r) => r.runId === runId && r.state === 'failed'))).runs.find((r) => r.runId === runId)!;
  assert.equal(listed.reason, failed.reason, 'the run list says why');

  const late = await TestClient.connect(a.url);
  late.send({ type: 'subscribe', runId });
  const history = await late.next('history', (m) => m.runId === runId);
  assert.equal(history.state, 'failed');
  assert.equal(history.reason, failed.reason, 'the history says why');

  // A run that ends without a reason (stopped by a user) lists none.
  c.send({ type: 'start', config: { data: 'sample', seed: 2, maxSteps: 100_000 } });
  const { runId: stoppedId } = await c.next('started', (m) => m.runId !== runId);
  await c.next('state', (m) => m.runId === stoppedId && m.state === 'running', 60_000);
  c.send({ type: 'stop', runId: stoppedId });
  await c.next('state', (m) => m.runId === stoppedId && m.state === 'stopped', 60_000);
  c.send({ type: 'list' });
  const runs = (await c.next('runs', (m) => m.runs.some((r) => r.runId === stoppedId && r.state === 'stopped'))).runs;
  assert.equal(runs.find((r) => r.runId === stoppedId)!.reason, undefined);
  await c.close();
  await late.close();
  await a.kill();

  // A new server over the same folder reads the reason from the run's files.
  const b = await startSidecar({ runsDir: a.runsDir });
  sidecars.push(b);
  const d = await TestClient.connect(b.url);
  d.send({ type: 'list' });
  const again = (await d.next('runs')).runs;
  assert.equal(again.find((r) => r.runId === runId)?.reason, failed.reason);
  assert.equal(again.find((r) => r.runId === stoppedId)?.reason, undefined);
  d.send({ type: 'subscribe', runId });
  assert.equal((await d.next('history', (m) => m.runId === runId)).reason, failed.reason);
  await d.close();
});
