// One process trains a run at a time (sidecar/store/runLock.ts), and a resume never overwrites newer work.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveConfig } from '../../sidecar/protocol';
import { RunStore } from '../../sidecar/store/runs';
import { heldByAnother, STALE_MS } from '../../sidecar/store/runLock';
import { collect, run, start, tempDir } from '../commands/helpers';

test('a run training in one process cannot be resumed by another: run_busy, naming the holder', { timeout: 120_000 }, async () => {
  const runsDir = tempDir();
  const a = start(['train', '--data', 'sample', '--epochs', '50', '--workers', '1', '--checkpoint-every', '50', '--json', '--runs-dir', runsDir]);
  const aDone = collect(a);
  try {
    let ckpt = '';
    for (let i = 0; i < 600 && !ckpt; i++) {
      await new Promise((r) => setTimeout(r, 100));
      for (const id of existsSync(runsDir) ? readdirSync(runsDir) : []) if (existsSync(join(runsDir, id, 'latest.ckpt'))) ckpt = join(runsDir, id, 'latest.ckpt');
    }
    assert.ok(ckpt, 'the first process wrote a checkpoint');
    const b = await run(['train', '--resume', ckpt, '--max-steps', '10', '--json', '--runs-dir', runsDir]);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, new RegExp(`is being trained by another process \\(pid ${a.pid} on ${hostname()}`));
  } finally {
    a.kill('SIGTERM');
    await aDone;
  }
});

test('a lock is stale when its heartbeat is old (whatever its pid and host say) or its process on this host is gone', () => {
  const now = Date.now();
  assert.equal(heldByAnother({ pid: 1, host: hostname(), heartbeatAt: now }), true, 'a live process with a fresh heartbeat');
  assert.equal(heldByAnother({ pid: 1, host: hostname(), heartbeatAt: now - STALE_MS - 1000 }), false, 'a reused pid: the heartbeat is old');
  assert.equal(heldByAnother({ pid: 1, host: 'another-host.example', heartbeatAt: now }), true, 'another host, fresh: it holds the run');
  assert.equal(heldByAnother({ pid: 1, host: 'another-host.example', heartbeatAt: now - STALE_MS - 1000 }), false, 'another host, silent: stale');
  assert.equal(heldByAnother({ pid: 2 ** 22 + 12345, host: hostname(), heartbeatAt: now }), false, 'this host, the process is gone (a kill -9)');
  assert.equal(heldByAnother({ pid: process.pid, host: hostname(), heartbeatAt: now }), false, 'our own');
});

test('a store takes a run whose lock is stale, and refuses one whose lock is fresh', () => {
  const store = new RunStore(tempDir());
  store.createRun('r', resolveConfig({ data: 'sample' }, 1));
  writeFileSync(join(store.dir('r'), 'lock'), JSON.stringify({ pid: 1, host: 'another-host.example', heartbeatAt: Date.now() }));
  assert.throws(() => store.lock('r'), (e: Error & { code?: string }) => e.code === 'run_busy' && /another-host\.example/.test(e.message));
  assert.equal(store.activeElsewhere('r'), true);
  writeFileSync(join(store.dir('r'), 'lock'), JSON.stringify({ pid: 1, host: 'another-host.example', heartbeatAt: Date.now() - STALE_MS - 5000 }));
  store.lock('r');
  assert.equal(JSON.parse(readFileSync(join(store.dir('r'), 'lock'), 'utf8')).pid, process.pid);
  store.close('r');
  assert.equal(existsSync(join(store.dir('r'), 'lock')), false, 'close gives the lock up');
});

test('train --resume of a checkpoint older than its run\'s newest trains a new branch and leaves the newer work alone', { timeout: 120_000 }, async () => {
  const runsDir = tempDir();
  const first = await run(['train', '--data', 'sample', '--epochs', '2', '--batch-size', '32', '--workers', '1', '--json', '--runs-dir', runsDir]);
  assert.equal(first.code, 0, first.stderr);
  const runId = String(first.lines.find((l) => l.type === 'done')!.runId);
  const dir = join(runsDir, runId);
  const older = readdirSync(dir).filter((f) => /^step-\d+\.ckpt$/.test(f)).sort((x, y) => Number(x.slice(5, -5)) - Number(y.slice(5, -5)))[0];
  const latest = readFileSync(join(dir, 'latest.ckpt'));
  const losses = statSync(join(dir, 'losses.f32')).size;
  const second = await run(['train', '--resume', join(dir, older), '--max-steps', '120', '--json', '--runs-dir', runsDir]);
  assert.equal(second.code, 0, second.stderr);
  const branch = String(second.lines.find((l) => l.type === 'done')!.runId);
  assert.notEqual(branch, runId);
  assert.match(second.stderr, /older than run .* newest .*: training it on as a new run/);
  assert.deepEqual(readFileSync(join(dir, 'latest.ckpt')), latest, 'the newer checkpoint is untouched');
  assert.equal(statSync(join(dir, 'losses.f32')).size, losses, 'the newer losses are untouched');
  const record = JSON.parse(readFileSync(join(runsDir, branch, 'config.json'), 'utf8'));
  assert.equal(record.parentRunId, runId);
});
