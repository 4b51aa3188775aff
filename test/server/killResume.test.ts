// `kill -9` of the sidecar mid-run, then a new sidecar resumes the run from its last checkpoint: every
// step's loss from there equals an uninterrupted run's, bit for bit, and so do the final parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../sidecar/store/checkpoint';
import { startSidecar, TestClient, delay } from './sidecar';

const config = { data: 'sample', seed: 3, epochs: 3, maxSteps: 1800, checkpointEvery: 200, logEvery: 100, workers: 2 } as const;

function losses(runsDir: string, runId: string): Float32Array {
  const b = readFileSync(join(runsDir, runId, 'losses.f32'));
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function trainToEnd(client: TestClient, runId: string): Promise<void> {
  await client.next('state', (m) => m.runId === runId && (m.state === 'done' || m.state === 'failed'), 120_000).then((m) => assert.equal(m.state, 'done', m.reason));
}

test('a sidecar killed with SIGKILL mid-run resumes from its checkpoint and trains the same losses bit for bit', async () => {
  // The uninterrupted run.
  const a = await startSidecar();
  const ca = await TestClient.connect(a.url);
  ca.send({ type: 'start', config });
  const { runId: fullId } = await ca.next('started');
  await trainToEnd(ca, fullId);
  const full = losses(a.runsDir, fullId);
  assert.equal(full.length, 1800);
  const fullParams = readCheckpoint(join(a.runsDir, fullId, 'latest.ckpt')).params;
  ca.close();
  await a.kill();

  // The same run, killed as soon as it has a checkpoint.
  const b = await startSidecar();
  const cb = await TestClient.connect(b.url);
  cb.send({ type: 'start', config });
  const { runId } = await cb.next('started');
  const latest = join(b.runsDir, runId, 'latest.ckpt');
  while (!existsSync(latest)) await delay(2);
  b.proc.kill('SIGKILL');
  assert.equal((await b.exited).signal, 'SIGKILL');
  const at = readCheckpoint(latest).step;
  assert.ok(at > 0 && at < 1800, `checkpoint at step ${at}`);

  // A new sidecar over the same runs folder resumes it.
  const c = await startSidecar({ runsDir: b.runsDir });
  const cc = await TestClient.connect(c.url);
  cc.send({ type: 'start', config: {}, resumeFrom: latest });
  const resumed = await cc.next('started');
  await trainToEnd(cc, resumed.runId);
  const again = losses(b.runsDir, resumed.runId);
  assert.equal(again.length, 1800, 'every step once: the steps after the checkpoint were rewound, not doubled');
  assert.deepEqual(again, full);
  assert.deepEqual(readCheckpoint(join(b.runsDir, resumed.runId, 'latest.ckpt')).params, fullParams);
  cc.close();
  await c.kill();
});
