// The dashboard's model of comparisons over seeds, fed protocol messages as the sidecar sends them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig, runGroupSchema, type RunGroup, type RunSummary, type ServerMessage } from '../../sidecar/protocol';
import { GroupModel } from '../../webview/groupModel';

const group: RunGroup = { id: 'compare-20260101-000000-aaaaaa', optimizers: ['adam', 'sgd'], seeds: [1, 2] };
const summary = (runId: string, optimizer: 'adam' | 'sgd', seed: number, extra: Partial<RunSummary> = {}): RunSummary => ({
  runId, state: 'running', config: resolveConfig({ optimizer, seed, workers: 1 }, 1), group, ...extra,
});
const evalMsg = (runId: string, step: number, testAccuracy: number): ServerMessage => ({
  type: 'eval', runId, step, epoch: 1, testLoss: 1, testAccuracy, perClassAccuracy: new Array(10).fill(0), confusion: Array.from({ length: 10 }, () => new Array(10).fill(0)),
});
const metrics = (runId: string, step: number, loss: number): ServerMessage => ({
  type: 'metrics', runId, step, epoch: step / 100, samplesSeen: step * 4, loss, lossMin: loss, lossMax: loss, accuracy: 0.1, learningRate: 0.001, samplesPerSec: 1000, updateRatio: {},
});

test('groups come from the run list; opening one subscribes its runs and closing it lets them go', () => {
  const m = new GroupModel(() => 0);
  assert.deepEqual(m.setRuns([summary('a1', 'adam', 1), summary('s1', 'sgd', 1), { ...summary('x', 'adam', 0), group: undefined }]), { subscribe: [], unsubscribe: [] });
  assert.deepEqual(m.list().map((g) => g.id), [group.id]);
  assert.deepEqual(m.openGroup(group.id), { subscribe: ['a1', 's1'], unsubscribe: [] });
  assert.ok(m.watches('a1') && !m.watches('x'));
  // A run of the open group that appears later in the list is subscribed then.
  assert.deepEqual(m.setRuns([summary('a1', 'adam', 1), summary('s1', 'sgd', 1), summary('a2', 'adam', 2)]).subscribe, ['a2']);
  assert.deepEqual(m.openGroup(undefined), { subscribe: [], unsubscribe: ['a1', 's1', 'a2'] });
});

test('finished runs give the per-seed results, the statistics and the verdict; running ones count in the curves only', () => {
  const m = new GroupModel(() => 0);
  m.handle({ type: 'comparing', group });
  m.openGroup(group.id);
  const cfg = (o: 'adam' | 'sgd', seed: number) => resolveConfig({ optimizer: o, seed, workers: 1 }, 1);
  for (const [runId, o, seed] of [['a1', 'adam', 1], ['s1', 'sgd', 1], ['a2', 'adam', 2], ['s2', 'sgd', 2]] as const) {
    m.handle({ type: 'started', runId, config: cfg(o, seed), group });
    m.handle(metrics(runId, 100, o === 'adam' ? 1.5 : 2));
    m.handle(metrics(runId, 200, o === 'adam' ? 1.2 : 1.9));
  }
  const acc: Record<string, number> = { a1: 0.55, s1: 0.52, a2: 0.54, s2: 0.5 };
  for (const runId of ['a1', 's1', 'a2']) {
    m.handle(evalMsg(runId, 200, acc[runId]));
    m.handle({ type: 'state', runId, state: 'done', step: 200 });
  }
  m.handle(evalMsg('s2', 100, 0.3)); // an epoch's evaluation of a run still training: not a result
  const s = m.snapshot('minmax')!;
  assert.deepEqual(s.members.map((x) => [x.runId, x.state, x.testAccuracy]), [['a1', 'done', 0.55], ['s1', 'done', 0.52], ['a2', 'done', 0.54], ['s2', 'running', undefined]]);
  assert.deepEqual(s.results.map((r) => `${r.optimizer}${r.seed}`), ['adam1', 'sgd1', 'adam2']);
  assert.equal(s.summary.optimizers.adam.n, 2);
  assert.equal(s.summary.difference?.n, 1);
  assert.match(s.summary.verdict, /on 1 seed: too few paired seeds/);
  assert.deepEqual(s.curves.map((c) => [c.optimizer, c.runs]), [['adam', 2], ['sgd', 2]]);
  assert.equal(s.curves[0].curve.mean.at(-1)?.y, 1.2);

  m.handle(evalMsg('s2', 200, 0.5));
  m.handle({ type: 'state', runId: 's2', state: 'done', step: 200 });
  const done = m.snapshot('std')!;
  assert.equal(done.summary.difference?.n, 2);
  assert.ok(Math.abs(done.summary.difference!.mean! - 0.035) < 1e-12);
});

test('a comparison of an optimizer with its ablations keeps each variant apart: curves, results and the verdict by variant', () => {
  const ablations: RunGroup = { id: 'compare-20260101-000000-bbbbbb', optimizers: ['adam', 'adam-no-bias-correction', 'sgd-nesterov'], seeds: [1] };
  const m = new GroupModel(() => 0);
  m.handle({ type: 'comparing', group: ablations });
  m.openGroup(ablations.id);
  const runs = [
    ['a', resolveConfig({ optimizer: 'adam', seed: 1, workers: 1 }, 1), 0.5],
    ['b', resolveConfig({ optimizer: 'adam', biasCorrection: false, seed: 1, workers: 1 }, 1), 0.4],
    ['n', resolveConfig({ optimizer: 'sgd', nesterov: true, seed: 1, workers: 1 }, 1), 0.45],
  ] as const;
  for (const [runId, config, accuracy] of runs) {
    m.handle({ type: 'started', runId, config, group: ablations });
    m.handle(metrics(runId, 100, 2 - accuracy));
    m.handle(evalMsg(runId, 100, accuracy));
    m.handle({ type: 'state', runId, state: 'done', step: 100 });
  }
  const s = m.snapshot('minmax')!;
  assert.deepEqual(s.members.map((x) => [x.runId, x.optimizer]), [['a', 'adam'], ['b', 'adam-no-bias-correction'], ['n', 'sgd-nesterov']]);
  assert.deepEqual(s.curves.map((c) => [c.optimizer, c.runs, c.curve.mean.at(-1)?.y]), [['adam', 1, 1.5], ['adam-no-bias-correction', 1, 1.6], ['sgd-nesterov', 1, 1.55]]);
  assert.equal(s.summary.optimizers['adam-no-bias-correction'].mean, 0.4);
  assert.deepEqual([s.summary.difference?.a, s.summary.difference?.b], ['adam', 'adam-no-bias-correction']);
});

test('a group naming an optimizer that is not one is refused by the protocol, naming the allowed ones', () => {
  const r = runGroupSchema.safeParse({ id: 'g', optimizers: ['adam', 'adagrad'], seeds: [1] });
  assert.equal(r.success, false);
  assert.match(r.error!.issues[0].message, /must be one of adam, adamw, amsgrad, sgd, rmsprop, adam-no-bias-correction, .*sgd-nesterov, got "adagrad"/);
});
