// Log lines are built for whoever prints them (`train`), not for a run nobody reads them from (`serve`'s runs): each
// one computes the optimizer's statistics between chunks, while the workers wait. The log window still restarts at
// every log step, so a checkpoint carries the same window either way and a resumed `train` prints the same lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { resolveConfig, type MetricsMessage } from '../sidecar/protocol';
import { RunMetrics } from '../sidecar/runMetrics';
import { readCheckpoint } from '../sidecar/store/checkpoint';
import { Run } from '../sidecar/trainer';
import { tempDir } from './store/helpers';
import { ensureBuilt } from './server/sidecar';

test('a run without a log listener builds no log lines, and checkpoints the same log window and parameters as one with', { timeout: 120_000 }, async () => {
  ensureBuilt();
  const cacheDir = tempDir();
  const config = resolveConfig({ data: 'sample', workers: 2, epochs: 100, maxSteps: 250, logEvery: 100, checkpointEvery: 1000, seed: 3 }, 2);
  const built: number[] = [];
  const add = RunMetrics.prototype.add;
  RunMetrics.prototype.add = function (this: RunMetrics, ...args: Parameters<typeof add>) {
    const r = add.apply(this, args);
    built.push(r.logLines.length);
    return r;
  };
  try {
    const runOnce = async (listen: boolean) => {
      built.length = 0;
      const checkpointDir = tempDir();
      const run = new Run({ runId: `log-${listen}`, config, cacheDir, checkpointDir });
      const lines: MetricsMessage[] = [];
      if (listen) run.on('log', (m: MetricsMessage) => lines.push(m));
      const done = await run.start();
      return { done, lines, built: built.reduce((a, b) => a + b, 0), checkpoint: readCheckpoint(join(checkpointDir, 'latest.ckpt')) };
    };
    const printed = await runOnce(true);
    const silent = await runOnce(false);
    assert.deepEqual(printed.lines.map((l) => l.step), [100, 200]);
    assert.equal(printed.built, 2);
    assert.equal(silent.built, 0, 'no log line is built without a listener');
    assert.equal(silent.done.parametersSha256, printed.done.parametersSha256);
    assert.equal(silent.checkpoint.step, 250);
    assert.equal(silent.checkpoint.lossCount, 50, 'the window since the last log step (200)');
    assert.equal(silent.checkpoint.lossCount, printed.checkpoint.lossCount);
    assert.equal(silent.checkpoint.lossSum, printed.checkpoint.lossSum);
  } finally {
    RunMetrics.prototype.add = add;
  }
});
