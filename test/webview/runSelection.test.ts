import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns, initialSelection, selectionAfterStart, shownRunIds } from '../../webview/runSelection';
import { resolveConfig, type RunSummary } from '../../sidecar/protocol';

const run = (runId: string, state: RunSummary['state'], optimizer: 'adam' | 'sgd' = 'adam', createdAt?: string): RunSummary => ({
  runId, state, config: resolveConfig({ optimizer }, 2), ...(createdAt ? { createdAt } : {}),
});
const runs = [run('2025-01-01-a', 'done'), run('2025-01-02-b', 'running'), run('2025-01-03-c', 'stopped', 'sgd')];

test('after a reload the runs shown before are shown again', () => {
  assert.deepEqual(initialSelection(runs, { primaryRunId: '2025-01-01-a', overlaid: ['2025-01-03-c', 'gone'] }), { primaryRunId: '2025-01-01-a', overlaid: ['2025-01-03-c'] });
});

test('a first visit opens the newest run that is training', () => {
  assert.equal(initialSelection(runs, { overlaid: [] }).primaryRunId, '2025-01-02-b');
});

test('with nothing training the newest run is opened', () => {
  assert.equal(initialSelection([runs[0], runs[2]], { overlaid: [] }).primaryRunId, '2025-01-03-c');
});

test('a new run replaces the open one unless it was overlaid', () => {
  assert.deepEqual(selectionAfterStart({ primaryRunId: 'a', overlaid: ['b'] }, { runId: 'n', optimizer: 'adam' }, false), { primaryRunId: 'n', overlaid: ['b'] });
});

test('a fork is opened with its parent still drawn', () => {
  assert.deepEqual(selectionAfterStart({ primaryRunId: 'a', overlaid: [] }, { runId: 'f', parentRunId: 'a', optimizer: 'adam' }, false), { primaryRunId: 'f', overlaid: ['a'] });
});

test('a comparison SGD run is overlaid on the open Adam run', () => {
  assert.deepEqual(selectionAfterStart({ primaryRunId: 'a', overlaid: [] }, { runId: 's', optimizer: 'sgd' }, true), { primaryRunId: 'a', overlaid: ['s'] });
});

test('compare finds the newest Adam and SGD runs and what is missing', () => {
  assert.deepEqual(compareRuns(runs), { adam: '2025-01-02-b', sgd: '2025-01-03-c', missing: [] });
  assert.deepEqual(compareRuns(runs.slice(0, 2)), { adam: '2025-01-02-b', sgd: undefined, missing: ['sgd'] });
});

test('the open run is drawn first, then overlays', () => {
  assert.deepEqual(shownRunIds({ primaryRunId: 'a', overlaid: ['b', 'a', 'c'] }), ['a', 'b', 'c']);
});

test('a run whose sidecar is gone is not taken for the one training', () => {
  const interrupted = { ...run('2025-01-04-d', 'running'), orphaned: true };
  assert.equal(initialSelection([...runs, interrupted], { overlaid: [] }).primaryRunId, '2025-01-02-b');
});
