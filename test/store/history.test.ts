// A run's history stays bounded and honest: metrics are recorded at most about once a second (every step's loss is
// in losses.f32), their min and max still cover every step, a history larger than one string is read, and a log
// that cannot be read is an error that says so, never an empty history.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveConfig, type MetricsMessage } from '../../sidecar/protocol';
import { RunStore } from '../../sidecar/store/runs';
import { run, tempDir } from '../commands/helpers';

test('a training run records about one metrics line a second, whose min and max cover every step', { timeout: 120_000 }, async () => {
  const runsDir = tempDir();
  const r = await run(['train', '--data', 'sample', '--max-steps', '3000', '--epochs', '5', '--workers', '1', '--json', '--runs-dir', runsDir]);
  assert.equal(r.code, 0, r.stderr);
  const done = r.lines.find((l) => l.type === 'done')!;
  const runId = String(done.runId);
  const store = new RunStore(runsDir);
  const metrics = store.readHistory(runId).metrics;
  const seconds = Number(done.seconds);
  // The live stream is 20 a second; the record at most one a second (plus the forced ones: checkpoints, the end).
  assert.ok(metrics.length <= Math.ceil(seconds) + 5, `${metrics.length} metrics lines recorded for ${seconds.toFixed(1)} s of training`);
  assert.equal(metrics[metrics.length - 1].step, 3000);
  const losses = store.readLosses(runId);
  assert.equal(losses.length, 3000);
  assert.ok(Math.abs(Math.min(...metrics.map((m) => m.lossMin)) - Math.min(...losses)) < 1e-6, 'the lowest loss of any step survives in the record');
  assert.ok(Math.abs(Math.max(...metrics.map((m) => m.lossMax)) - Math.max(...losses)) < 1e-6, 'the highest loss of any step survives in the record');
});

test('a history larger than one string can hold is read, line by line', { timeout: 120_000 }, () => {
  const store = new RunStore(tempDir());
  store.createRun('big', resolveConfig({ data: 'sample' }, 1));
  store.close('big');
  const line = (step: number): string => JSON.stringify({ type: 'metrics', runId: 'big', step, epoch: 0, samplesSeen: step, loss: 2, lossMin: 1, lossMax: 3, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1, updateRatio: { conv1: 0.1 }, pad: undefined } satisfies MetricsMessage & { pad?: undefined }) + '\n';
  // ~560 MB of lines: past V8's largest string (about 512 MB), which the old whole-file read could not hold.
  const block = Array.from({ length: 20_000 }, (_, i) => line(i + 1)).join('');
  const file = join(store.root, 'big', 'events.jsonl');
  const copies = Math.ceil(560e6 / block.length);
  for (let k = 0; k < copies; k++) appendFileSync(file, block);
  appendFileSync(file, line(20_001));
  const h = store.readHistory('big');
  assert.equal(h.metrics[h.metrics.length - 1].step, 20_001, 'the last line is read');
  assert.ok(readFileSync(join(store.root, 'big', 'config.json'), 'utf8').length > 0);
});

test('a history that cannot be read is an error naming the run and the file, not an empty history', () => {
  const store = new RunStore(tempDir());
  store.createRun('r', resolveConfig({ data: 'sample' }, 1));
  store.close('r');
  mkdirSync(join(store.root, 'r', 'events.jsonl'), { recursive: true }); // a folder where the log should be
  assert.throws(() => store.readHistory('r'), (e: Error & { code?: string }) => e.code === 'read_failed' && /history of run r .*events\.jsonl/.test(e.message));
});
