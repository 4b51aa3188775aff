import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../sidecar/errors';
import { type MetricsMessage, resolveConfig } from '../../sidecar/protocol';
import { writeCheckpointAtomic } from '../../sidecar/store/checkpoint';
import { RunStore } from '../../sidecar/store/runs';
import { sampleState, tempDir } from './helpers';

const config = resolveConfig({ data: 'sample', maxSteps: 100 }, 2);

function metrics(runId: string, step: number, loss = 2.3): MetricsMessage {
  return { type: 'metrics', runId, step, epoch: 0, samplesSeen: step * 4, loss, lossMin: loss, lossMax: loss, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1000, updateRatio: { conv1: 1e-3 } };
}

test('a run is created with config.json and reads back with its history', () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  store.appendEvent('r1', { type: 'state', runId: 'r1', state: 'running' });
  store.appendEvent('r1', metrics('r1', 10));
  store.appendEvent('r1', { type: 'applied', runId: 'r1', step: 12, changes: { learningRate: { from: 1e-3, to: 5e-4 } } });
  store.appendEvent('r1', metrics('r1', 20));
  store.appendEvent('r1', { type: 'state', runId: 'r1', state: 'done' });
  const h = store.readHistory('r1');
  assert.deepEqual(h.config, config);
  assert.equal(h.state, 'done');
  assert.deepEqual(h.metrics.map((m) => m.step), [10, 20]);
  assert.equal(h.applied[0].changes.learningRate.to, 5e-4);
  assert.deepEqual(JSON.parse(readFileSync(join(store.root, 'r1', 'config.json'), 'utf8')).config, config);
});

test('a torn last line (a crash mid-append) is skipped, and the next append starts a fresh line', () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  store.appendEvent('r1', metrics('r1', 10));
  store.close('r1');
  appendFileSync(join(store.root, 'r1', 'events.jsonl'), '{"type":"metrics","runId":"r1","st');
  assert.deepEqual(store.readHistory('r1').metrics.map((m) => m.step), [10]);
  assert.equal(store.listRuns()[0].runId, 'r1');
  const again = new RunStore(store.root); // another process, after the crash
  again.appendEvent('r1', metrics('r1', 20));
  assert.deepEqual(again.readHistory('r1').metrics.map((m) => m.step), [10, 20]);
});

test('a resumed run that repeats steps replaces what was recorded after its checkpoint', () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  for (const step of [10, 20, 30]) store.appendEvent('r1', metrics('r1', step, 2));
  for (const step of [20, 30, 40]) store.appendEvent('r1', metrics('r1', step, 1));
  assert.deepEqual(store.readHistory('r1').metrics.map((m) => [m.step, m.loss]), [[10, 2], [20, 1], [30, 1], [40, 1]]);
});

test('losses are appended as float32 blocks; a partial float from a crash is dropped', () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  store.appendLosses('r1', new Float32Array([2.5, 2.25]));
  store.appendLosses('r1', new Float32Array([2.125]));
  assert.deepEqual([...store.readLosses('r1')], [2.5, 2.25, 2.125]);
  store.close('r1');
  appendFileSync(join(store.root, 'r1', 'losses.f32'), Buffer.from([1, 2]));
  const again = new RunStore(store.root);
  again.appendLosses('r1', new Float32Array([1.5]));
  assert.deepEqual([...again.readLosses('r1')], [2.5, 2.25, 2.125, 1.5]);
  again.rewindLosses('r1', 2);
  assert.deepEqual([...again.readLosses('r1')], [2.5, 2.25]);
});

test('listRuns gives each run its last state, step and test accuracy, and skips what is not a run', () => {
  const store = new RunStore(tempDir());
  store.createRun('a', config);
  store.createRun('b', config, { parentRunId: 'a', forkStep: 10 });
  store.appendEvent('a', metrics('a', 50));
  store.appendEvent('a', { type: 'eval', runId: 'a', step: 50, epoch: 1, testLoss: 1.5, testAccuracy: 0.42, perClassAccuracy: Array(10).fill(0.42), confusion: Array.from({ length: 10 }, () => Array(10).fill(0)) });
  store.appendEvent('a', { type: 'state', runId: 'a', state: 'done' });
  mkdirSync(join(store.root, 'not-a-run'));
  writeFileSync(join(store.root, 'stray.txt'), 'x');
  const runs = store.listRuns();
  assert.deepEqual(runs.map((r) => [r.runId, r.state, r.step, r.testAccuracy, r.parentRunId, r.forkStep]), [
    ['a', 'done', 50, 0.42, undefined, undefined],
    ['b', 'idle', undefined, undefined, 'a', 10],
  ]);
});

test('a run left running by a process that is gone reads as running and orphaned', () => {
  const root = tempDir();
  // A real process records the run as running, then exits without saying more (as a crash would).
  const script = `
    const { RunStore } = require(${JSON.stringify(require.resolve('../../sidecar/store/runs'))});
    const s = new RunStore(${JSON.stringify(root)});
    s.createRun('crashed', ${JSON.stringify(config)});
    s.appendEvent('crashed', { type: 'state', runId: 'crashed', state: 'running' });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const store = new RunStore(root);
  store.createRun('mine', config);
  store.appendEvent('mine', { type: 'state', runId: 'mine', state: 'running' });
  const runs = Object.fromEntries(store.listRuns().map((s) => [s.runId, s]));
  assert.equal(runs.crashed.state, 'running');
  assert.equal(runs.crashed.orphaned, true);
  assert.equal(runs.mine.state, 'running');
  assert.equal(runs.mine.orphaned, undefined);
});

test('checkpointAtOrBefore picks the nearest step checkpoint or latest.ckpt at or before the step', async () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  await writeCheckpointAtomic(store.checkpointPath('r1', 'step-100'), sampleState({ runId: 'r1', step: 100 }));
  await writeCheckpointAtomic(store.checkpointPath('r1', 'step-300'), sampleState({ runId: 'r1', step: 300 }));
  await writeCheckpointAtomic(store.checkpointPath('r1', 'latest'), sampleState({ runId: 'r1', step: 250 }));
  assert.equal(store.checkpointAtOrBefore('r1', 299).state.step, 250);
  assert.equal(store.checkpointAtOrBefore('r1', 300).state.step, 300);
  assert.equal(store.checkpointAtOrBefore('r1', 150).state.step, 100);
  assert.throws(() => store.checkpointAtOrBefore('r1', 50), (e: unknown) => e instanceof UserError && e.code === 'bad_checkpoint');
  assert.throws(() => store.checkpointPath('r1', '../../etc/passwd'), (e: unknown) => e instanceof UserError && e.code === 'bad_path');
});

test('deleteRun removes the run folder; unknown and escaping run ids are refused', () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  store.appendEvent('r1', metrics('r1', 1));
  store.deleteRun('r1');
  assert.equal(existsSync(join(store.root, 'r1')), false);
  assert.throws(() => store.deleteRun('r1'), (e: unknown) => e instanceof UserError && e.code === 'unknown_run');
  assert.throws(() => store.deleteRun('../x'), (e: unknown) => e instanceof UserError && e.code === 'bad_path');
  const outside = tempDir();
  writeFileSync(join(outside, 'precious'), 'keep');
  symlinkSync(outside, join(store.root, 'escape'));
  assert.throws(() => store.deleteRun('escape'), (e: unknown) => e instanceof UserError && e.code === 'bad_path');
  assert.deepEqual(readdirSync(outside), ['precious']);
});

test('creating a run id that exists is refused, the existing run untouched', () => {
  const store = new RunStore(tempDir());
  store.createRun('r1', config);
  store.appendEvent('r1', metrics('r1', 1));
  assert.throws(() => store.createRun('r1', config), /already exists/);
  assert.equal(store.readHistory('r1').metrics.length, 1);
});
