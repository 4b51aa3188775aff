// What a PyTorch export replays, read from run folders: the first run's configuration and every edit in
// force along the line of forks, each at the step it took effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { initParameters } from '../../sidecar/nn/init';
import { resolveConfig, type LiveHyperparameters, type RunConfig } from '../../sidecar/protocol';
import { planFromRun } from '../../sidecar/pytorch/plan';
import { Rng } from '../../sidecar/rng';
import { RunStore } from '../../sidecar/store/runs';
import { tempDir } from '../store/helpers';

function applied(store: RunStore, runId: string, step: number, changes: Record<string, [number, number]>): void {
  store.appendEvent(runId, { type: 'applied', runId, step, changes: Object.fromEntries(Object.entries(changes).map(([k, [from, to]]) => [k, { from, to }])) });
}

function runs(): { dir: string; store: RunStore; root: RunConfig } {
  const dir = tempDir('adam-plan-');
  const store = new RunStore(dir);
  const root = resolveConfig({ data: 'sample', seed: 7 }, 2);
  store.createRun('root', root);
  applied(store, 'root', 51, { learningRate: [0.001, 0.0005] });
  applied(store, 'root', 151, { beta2: [0.999, 0.99] });
  return { dir, store, root };
}

const edits = (plan: { edits: Array<{ step: number; changes: LiveHyperparameters }> }) => plan.edits.map((e) => [e.step, e.changes]);

test('a run is replayed from its initial weights and seed with every applied edit at its step', () => {
  const { dir, root } = runs();
  const plan = planFromRun(dir, 'root', dir);
  assert.deepEqual(edits(plan), [[51, { learningRate: 0.0005 }], [151, { beta2: 0.99 }]]);
  assert.equal(plan.config.learningRate, 0.001, 'the configuration is the one the run started with');
  assert.equal(plan.start.step, 0);
  assert.deepEqual(plan.start.rng, new Rng(root.seed).state());
  const expected = new Float32Array(PARAMETER_COUNT);
  initParameters(expected, root.seed);
  assert.deepEqual(plan.params, expected);
});

test('a fork is its parent up to the fork step, then its own configuration and edits', () => {
  const { dir, store, root } = runs();
  // The fork's config.json is the parent's checkpoint at step 100 (lr already 0.0005); its changes are its first edit.
  store.createRun('fork', { ...root, learningRate: 0.0005 }, { parentRunId: 'root', forkStep: 100 });
  applied(store, 'fork', 101, { batchSize: [4, 8] });
  applied(store, 'fork', 201, { learningRate: [0.0005, 0.0002] });
  const plan = planFromRun(dir, 'fork', dir);
  assert.deepEqual(edits(plan), [[51, { learningRate: 0.0005 }], [101, { batchSize: 8 }], [201, { learningRate: 0.0002 }]]);
  assert.equal(plan.config.learningRate, 0.001);
});

test('values a fork took from its checkpoint but no event recorded become an edit at the fork step', () => {
  const { dir, store, root } = runs();
  store.createRun('fork', { ...root, learningRate: 0.0003 }, { parentRunId: 'root', forkStep: 100 });
  applied(store, 'fork', 101, { batchSize: [4, 8] });
  assert.deepEqual(edits(planFromRun(dir, 'fork', dir)), [[51, { learningRate: 0.0005 }], [101, { learningRate: 0.0003, batchSize: 8 }]]);
});

test('a fork whose parent is gone is refused with the way out: export a checkpoint', () => {
  const dir = tempDir('adam-plan-');
  const store = new RunStore(dir);
  store.createRun('orphan', resolveConfig({}, 1), { parentRunId: 'gone', forkStep: 10 });
  assert.throws(() => planFromRun(dir, 'orphan', dir), /forked from gone, which is not in .*export one of its checkpoints/);
});
