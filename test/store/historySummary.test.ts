// The summary a finished run leaves beside its log (store/historySummary.ts): what a subscriber is sent, read
// without the log; rebuilt from the log whenever it does not match it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type MetricsMessage, resolveConfig, SUMMARY_POINTS } from '../../sidecar/protocol';
import { readSummary, SUMMARY_FILE, summarize } from '../../sidecar/store/historySummary';
import { RunStore } from '../../sidecar/store/runs';
import { Rng } from '../../sidecar/rng';
import { tempDir } from './helpers';

const config = resolveConfig({ data: 'sample', maxSteps: 100_000 }, 2);

function metrics(runId: string, step: number, loss: number): MetricsMessage {
  return { type: 'metrics', runId, step, epoch: 0, samplesSeen: step * 4, loss, lossMin: loss - 0.1, lossMax: loss + 0.1, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1000, updateRatio: { conv1: 1e-3 } };
}

function finishedRun(store: RunStore, runId: string, steps: number, rng: Rng): void {
  store.createRun(runId, config);
  store.appendEvent(runId, { type: 'state', runId, state: 'running' });
  for (let s = 1; s <= steps; s++) store.appendEvent(runId, metrics(runId, s * 10, 2 + rng.uniform(-1, 1)));
  store.appendEvent(runId, { type: 'eval', runId, step: steps * 10, epoch: 0, testLoss: 1.5, testAccuracy: 0.4, perClassAccuracy: Array(10).fill(0.4), confusion: Array.from({ length: 10 }, () => Array(10).fill(1)) });
  store.appendEvent(runId, { type: 'state', runId, state: 'done', step: steps * 10 });
}

test('a run that ends leaves its summary beside the log, and opening it reads the summary: the same history as from the log', () => {
  const rng = new Rng(5);
  for (const steps of [1, 7, SUMMARY_POINTS, SUMMARY_POINTS + 1, 3000 + rng.nextInt(3000)]) {
    const store = new RunStore(tempDir());
    finishedRun(store, 'r1', steps, rng);
    const file = join(store.dir('r1'), SUMMARY_FILE);
    assert.ok(existsSync(file), `${steps} steps: summary written when the run ended`);
    const fromLog = summarize(store.readHistory('r1'));
    assert.ok(fromLog.metrics.length <= SUMMARY_POINTS);
    assert.deepEqual(readSummary(store, 'r1'), fromLog);
    // Proof that the summary, not the log, was read: a marker placed in the file (its digest made anew, same key)
    // comes back. The digest is computed here, not with the module's own function.
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.history.metrics[0].loss = 123.5;
    doc.sha256 = createHash('sha256').update(JSON.stringify(doc.history)).digest('hex');
    writeFileSync(file, JSON.stringify(doc));
    assert.equal(readSummary(store, 'r1').metrics[0].loss, 123.5);
  }
});

test('a summary the log has outgrown (the run resumed), or a damaged one, is not used: the history comes from the log and the summary is rewritten once the run ends', () => {
  const store = new RunStore(tempDir());
  finishedRun(store, 'r1', 50, new Rng(9));
  const file = join(store.dir('r1'), SUMMARY_FILE);
  const before = readFileSync(file, 'utf8');
  // Resumed: running again, more steps. The summary no longer matches the log, and a live run's is not written.
  store.appendEvent('r1', { type: 'state', runId: 'r1', state: 'running', step: 500 });
  store.appendEvent('r1', metrics('r1', 510, 0.5));
  const live = readSummary(store, 'r1');
  assert.equal(live.state, 'running');
  assert.equal(live.metrics.at(-1)!.step, 510);
  assert.equal(readFileSync(file, 'utf8'), before, 'a live run leaves the old summary as it was');
  store.appendEvent('r1', { type: 'state', runId: 'r1', state: 'stopped', step: 510 });
  assert.equal(readSummary(store, 'r1').state, 'stopped');
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).history.state, 'stopped', 'rewritten when the run ended again');

  const good = JSON.parse(readFileSync(file, 'utf8'));
  const damaged = [
    '{"format":2,',
    'null',
    // Edited without its digest made anew: one loss changed, or a metric that is not one.
    JSON.stringify({ ...good, history: { ...good.history, metrics: [{ ...good.history.metrics[0], loss: 0.25 }, ...good.history.metrics.slice(1)] } }),
    JSON.stringify({ ...good, history: { ...good.history, metrics: [{ step: 'ten' }] } }),
    JSON.stringify({ ...good, sha256: undefined }),
    // Written by another version: the first format (checked against the protocol, no digest), or another protocol.
    JSON.stringify({ format: 1, eventsBytes: good.eventsBytes, eventsMtimeMs: good.eventsMtimeMs, history: good.history }),
    JSON.stringify({ ...good, protocolVersion: good.protocolVersion + 1 }),
  ];
  for (const damage of damaged) {
    writeFileSync(file, damage);
    assert.deepEqual(readSummary(store, 'r1'), summarize(store.readHistory('r1')), `damaged summary ${damage.slice(0, 40)} is rebuilt from the log`);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).history.state, 'stopped', 'and written again');
  }
});
