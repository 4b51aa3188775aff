// Learning-rate schedules over the real socket of a real sidecar: the planned lr is sent ahead of the run, an edit
// of lr or of the schedule is applied at a step boundary like any live edit, recorded, and re-plans from its step;
// an edit that cannot be planned is answered with an error that names it, and the run trains on unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { learningRateAt } from '../../sidecar/optim/schedule';
import { SCHEDULE_DEFAULTS, type RunConfig } from '../../sidecar/protocol';
import { startSidecar, TestClient, type Sidecar } from './sidecar';

describe('learning-rate schedules over the WebSocket', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('a cosine run plans its lr over the run, reports the lr each step used, and an lr edit rescales the plan from its step', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: { data: 'sample', workers: 1, epochs: 2, schedule: 'cosine', learningRate: 0.002, minLearningRate: 1e-5, warmupSteps: 50 } });
    const { runId, config } = await c.next('started');
    assert.equal(config.schedule, 'cosine');
    const plan = await c.next('plan', (m) => m.runId === runId, 30_000);
    assert.equal(plan.step, 1);
    // "Over the run": 2 epochs of the sample's 3,000 images at batch 4.
    const resolved: RunConfig = { ...config, scheduleSteps: 1500 };
    assert.equal(plan.points[plan.points.length - 1].step, 1500);
    for (const p of plan.points) assert.equal(p.learningRate, learningRateAt(resolved, p.step - 1));
    const metrics = await c.next('metrics', (m) => m.runId === runId, 30_000);
    assert.equal(metrics.learningRate, learningRateAt(resolved, metrics.step - 1));

    c.send({ type: 'pause', runId });
    await c.next('state', (m) => m.state === 'paused');
    c.send({ type: 'update', runId, learningRate: 0.004, requestId: 'lr' });
    const applied = await c.next('applied', (m) => m.requestId === 'lr', 10_000);
    assert.deepEqual(applied.changes, { learningRate: { from: 0.002, to: 0.004 } });
    const replanned = await c.next('plan', (m) => m.runId === runId && m.step === applied.step, 10_000);
    const edited = { ...resolved, learningRate: 0.004 };
    assert.equal(replanned.points[0].step, applied.step);
    for (const p of replanned.points) assert.equal(p.learningRate, learningRateAt(edited, p.step - 1));

    // The schedule itself is live: switched to step decay, the plan follows from the edit's step.
    c.send({ type: 'update', runId, schedule: 'step', stepSize: 100, gamma: 0.5, requestId: 'kind' });
    const kind = await c.next('applied', (m) => m.requestId === 'kind', 10_000);
    assert.deepEqual(kind.changes, { schedule: { from: 'cosine', to: 'step' }, stepSize: { from: SCHEDULE_DEFAULTS.stepSize, to: 100 }, gamma: { from: SCHEDULE_DEFAULTS.gamma, to: 0.5 } });
    const stepPlan = await c.next('plan', (m) => m.step === kind.step, 10_000);
    for (const p of stepPlan.points) assert.equal(p.learningRate, learningRateAt({ ...edited, schedule: 'step', stepSize: 100, gamma: 0.5 }, p.step - 1));

    // A subscriber that comes later gets the plans in the history, each from its step.
    const late = await TestClient.connect(s.url);
    await late.next('hello');
    late.send({ type: 'subscribe', runId });
    const history = await late.next('history', (m) => m.runId === runId);
    // Two edits made while paused take effect at the same step: the later plan replaces the earlier there.
    assert.deepEqual(history.plans?.map((p) => p.step), [...new Set([1, applied.step, kind.step])]);
    assert.deepEqual(history.plans?.[history.plans.length - 1], stepPlan);
    await late.close();

    c.send({ type: 'resume', runId });
    const after = await c.next('metrics', (m) => m.runId === runId && m.step > kind.step, 30_000);
    assert.equal(after.learningRate, learningRateAt({ ...edited, schedule: 'step', stepSize: 100, gamma: 0.5 }, after.step - 1));
    c.send({ type: 'stop', runId });
    await c.next('state', (m) => m.runId === runId && m.state === 'stopped', 30_000);
    await c.close();
  });

  test('an edit the schedule cannot follow is refused with an error naming it, and the run keeps its schedule', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send({ type: 'start', config: { data: 'sample', workers: 1, epochs: 100, scheduleSteps: 750, schedule: 'onecycle', maxLearningRate: 0.01 } });
    const { runId } = await c.next('started');
    await c.next('plan', (m) => m.runId === runId, 30_000);
    c.send({ type: 'pause', runId });
    await c.next('state', (m) => m.state === 'paused', 30_000);
    c.send({ type: 'update', runId, learningRate: 0.003, requestId: 'lr' });
    const lr = await c.next('error', (m) => m.requestId === 'lr', 10_000);
    assert.equal(lr.code, 'bad_config');
    assert.match(lr.message, /under the onecycle schedule the lr follows maxLearningRate.*edit maxLearningRate/);
    c.send({ type: 'update', runId, warmupSteps: 5000, requestId: 'warm' });
    const warm = await c.next('error', (m) => m.requestId === 'warm', 10_000);
    assert.match(warm.message, /warmupSteps 5000 leaves no step of the run's 750 for the onecycle schedule/);
    c.send({ type: 'update', runId, schedule: 'linear' as never, requestId: 'bad' });
    // A message that fails validation is answered before anything of it is trusted (its requestId included).
    const bad = await c.next('error', (m) => m.code === 'bad_message', 10_000);
    assert.equal(bad.code, 'bad_message');
    assert.match(bad.message, /schedule must be one of constant, step, cosine, onecycle, got "linear"/);
    c.send({ type: 'update', runId, maxLearningRate: 0.02, requestId: 'max' });
    const max = await c.next('applied', (m) => m.requestId === 'max', 10_000);
    assert.deepEqual(max.changes, { maxLearningRate: { from: 0.01, to: 0.02 } });
    assert.equal(c.all('applied').filter((m) => m.runId === runId).length, 1);
    c.send({ type: 'stop', runId });
    await c.next('state', (m) => m.runId === runId && m.state === 'stopped', 30_000);
    await c.close();
  });
});
