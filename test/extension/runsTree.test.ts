// The Runs view's content as plain functions: order, comparison groups, descriptions, the items' context
// values the manifest's menus match, and the context keys behind the palette's `when` clauses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCHEDULE_DEFAULTS, type RunSummary } from '../../sidecar/protocol';
import { groupLabel, runContextKeys, runContextValue, runItemDescription, runLabel, runTree, type GroupNode } from '../../extension/runsTree';

const config = { optimizer: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, momentum: 0.9, alpha: 0.99, biasCorrection: true, nesterov: false, augment: 'none', batchSize: 4, epochs: 2, workers: 1, seed: 0, maxSteps: 0, logEvery: 50, checkpointEvery: 1000, data: 'sample' , ...SCHEDULE_DEFAULTS } satisfies RunSummary['config'] as RunSummary['config'];
const run = (runId: string, extra: Partial<RunSummary> = {}): RunSummary => ({ runId, state: 'done', config, ...extra });
const group = { id: 'g1', optimizers: ['adam', 'sgd'] as Array<'adam' | 'sgd'>, seeds: [1, 2] };

test('runs are listed newest first, and the runs of a comparison over seeds sit under their group', () => {
  const tree = runTree([run('20250101-000000-a'), run('20250103-000000-c', { group }), run('20250102-000000-b'), run('20250104-000000-d', { group })]);
  assert.deepEqual(tree.map((n) => (n.kind === 'group' ? `group ${n.group.id}` : n.run.runId)), ['group g1', '20250102-000000-b', '20250101-000000-a']);
  assert.deepEqual((tree[0] as GroupNode).runs.map((n) => n.run.runId), ['20250104-000000-d', '20250103-000000-c']);
});

test('a run shows its optimizer and key hyperparameters, then its state, step and test accuracy', () => {
  assert.equal(runLabel(run('r', { config: { ...config, optimizer: 'sgd', learningRate: 0.01 } })), 'SGD lr 0.01 · batch 4 · seed 0');
  assert.equal(runItemDescription(run('r', { state: 'running', step: 12345 })), 'running · step 12,345');
  assert.equal(runItemDescription(run('r', { step: 25000, testAccuracy: 0.5421 })), 'done · step 25,000 · test 54.2%');
  assert.equal(runItemDescription(run('r', { state: 'running', orphaned: true })), 'interrupted');
});

test('a run item tells the menus whether it trains, is paused, ended or was interrupted', () => {
  assert.equal(runContextValue(run('r', { state: 'running' })), 'run.running');
  assert.equal(runContextValue(run('r', { state: 'downloading' })), 'run.running');
  assert.equal(runContextValue(run('r', { state: 'paused' })), 'run.paused');
  assert.equal(runContextValue(run('r', { state: 'failed' })), 'run.ended');
  assert.equal(runContextValue(run('r', { state: 'paused', orphaned: true })), 'run.interrupted');
});

test('a group says what it compares and how far it is', () => {
  const node = runTree([run('a', { group }), run('b', { group, state: 'running' })])[0] as GroupNode;
  assert.deepEqual(groupLabel(node), { label: 'adam vs sgd over 2 seeds', description: '1 of 4 done · 1 training' });
});

test('the context keys say running only while a run trains and paused only while one is paused; interrupted runs count as neither', () => {
  assert.deepEqual(runContextKeys([]), { running: false, paused: false });
  assert.deepEqual(runContextKeys([run('a'), run('b', { state: 'running', orphaned: true })]), { running: false, paused: false });
  assert.deepEqual(runContextKeys([run('a', { state: 'running' })]), { running: true, paused: false });
  assert.deepEqual(runContextKeys([run('a', { state: 'paused' })]), { running: false, paused: true });
});
