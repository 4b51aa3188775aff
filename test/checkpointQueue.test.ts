// Checkpoints are written off the main thread (trainer.ts queueCheckpoint): the workers train on while the disk
// syncs. On a disk slower than the run, the writes still land in the order they were taken, none is dropped, and the
// run does not end (nor pause) before its last checkpoint is on disk.
import assert from 'node:assert/strict';
import fs, { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { resolveConfig } from '../sidecar/protocol';
import { readCheckpoint } from '../sidecar/store/checkpoint';
import { Run } from '../sidecar/trainer';
import { tempDir } from './store/helpers';
import { ensureBuilt } from './server/sidecar';

/** The disk is an edge we do not own: every fsync of a file takes 60 ms, longer than a chunk of training. */
function slowDisk(t: TestContext): void {
  const realOpen = fs.promises.open;
  t.mock.method(fs.promises, 'open', async (...args: Parameters<typeof fs.promises.open>) => {
    const handle = await realOpen(...args);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await new Promise((r) => setTimeout(r, 60));
      return sync();
    };
    return handle;
  });
}

test('on a slow disk the run trains on while checkpoints are written, in order, and ends with the last on disk', { timeout: 120_000 }, async (t) => {
  ensureBuilt();
  slowDisk(t);
  const checkpointDir = tempDir();
  const config = resolveConfig({ data: 'sample', workers: 2, epochs: 100, maxSteps: 400, checkpointEvery: 40, seed: 5 }, 2);
  const run = new Run({ runId: 'slow-disk', config, cacheDir: tempDir(), checkpointDir });
  const written: { step: number; name: string; stepThen: number }[] = [];
  run.on('checkpoint', (c: { step: number; path: string }) => {
    written.push({ step: c.step, name: c.path.slice(checkpointDir.length + 1), stepThen: run.step });
    // What the event names is on disk, whole, when it is said.
    assert.equal(readCheckpoint(c.path).step, c.step);
  });
  const done = await run.start();
  t.mock.restoreAll();

  const latest = written.filter((w) => w.name === 'latest.ckpt').map((w) => w.step);
  assert.deepEqual(latest, [40, 80, 120, 160, 200, 240, 280, 320, 360, 400, 400], 'every checkpoint, in the order taken');
  assert.equal(done.steps, 400);
  assert.equal(readCheckpoint(join(checkpointDir, 'latest.ckpt')).step, 400, 'the last checkpoint is on disk when the run ends');
  assert.deepEqual(readdirSync(checkpointDir).filter((n) => n.endsWith('.tmp')), []);
  // The routine checkpoints were written while the run trained: when each was on disk the run was past its step.
  const overlapped = written.filter((w) => w.stepThen > w.step).length;
  assert.ok(overlapped >= 5, `${overlapped} of ${written.length} checkpoints were written while the run trained on`);
});

test('a pause has latest.ckpt on disk before the run says it is paused', { timeout: 120_000 }, async (t) => {
  ensureBuilt();
  slowDisk(t);
  const checkpointDir = tempDir();
  const config = resolveConfig({ data: 'sample', workers: 2, epochs: 100, maxSteps: 100_000, checkpointEvery: 1000, seed: 6 }, 2);
  const run = new Run({ runId: 'pause-disk', config, cacheDir: tempDir(), checkpointDir });
  let onDiskWhenPaused = -1;
  let stepWhenPaused = -2;
  run.on('state', (m: { state: string }) => {
    if (m.state === 'running' && stepWhenPaused === -2) setTimeout(() => run.pause(), 300);
    if (m.state === 'paused') {
      stepWhenPaused = run.step;
      onDiskWhenPaused = readCheckpoint(join(checkpointDir, 'latest.ckpt')).step;
      void run.stop();
    }
  });
  await run.start();
  t.mock.restoreAll();
  assert.ok(stepWhenPaused > 0);
  assert.equal(onDiskWhenPaused, stepWhenPaused);
});
