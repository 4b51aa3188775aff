// A connection's share of the live stream (server/liveLevel.ts, the client message `live`): drawn at random against
// its rules, then in a real `adam-trainer serve` beside a client that gets everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { STATUS_METRICS_MS, type LiveLevel, type ServerMessage } from '../../sidecar/protocol';
import { LiveLevelFilter } from '../../sidecar/server/liveLevel';
import { fuzzOptions } from '../support/fuzz';
import { startSidecar, TestClient } from './sidecar';

const RUNS = ['r1', 'r2', 'r3'];
type Event = { at: number; msg: ServerMessage };

const metrics = (runId: string, step: number): ServerMessage => ({ type: 'metrics', runId, step, epoch: 0, samplesSeen: step, loss: 1, lossMin: 1, lossMax: 1, accuracy: 0.5, learningRate: 1e-3, samplesPerSec: 1000, updateRatio: {} });
const messageArb = (step: number): fc.Arbitrary<ServerMessage> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...RUNS).map((r) => metrics(r, step)) },
    { weight: 4, arbitrary: fc.constantFrom(...RUNS).map((runId) => ({ type: 'stepHistogram', runId, step, layers: {} }) as unknown as ServerMessage) },
    { weight: 1, arbitrary: fc.constant({ type: 'system', cpuPercent: 100, rssBytes: 1 } as ServerMessage) },
    { weight: 1, arbitrary: fc.constantFrom(...RUNS).map((runId) => ({ type: 'checkpointed', runId, step, path: `/runs/${runId}/latest.ckpt` }) as ServerMessage) },
    { weight: 1, arbitrary: fc.constantFrom(...RUNS).map((runId) => ({ type: 'checkpointed', runId, step, path: `/runs/${runId}/a.ckpt`, requestId: `q${step}` }) as ServerMessage) },
    { weight: 1, arbitrary: fc.constantFrom(...RUNS).map((runId) => ({ type: 'eval', runId, step, testLoss: 1, testAccuracy: 0.5 }) as unknown as ServerMessage) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RUNS), fc.constantFrom('paused', 'running', 'done', 'stopped', 'failed')).map(([runId, state]) => ({ type: 'state', runId, state, step }) as ServerMessage) },
    { weight: 1, arbitrary: fc.constant({ type: 'runs', runs: [] } as ServerMessage) },
  );
/** Messages at increasing times (gaps of 0 to 1.5 STATUS_METRICS_MS), each with its own step so it can be told apart. */
const streamArb = fc.array(fc.integer({ min: 0, max: 1.5 * STATUS_METRICS_MS }), { minLength: 1, maxLength: 120 }).chain((gaps) =>
  fc.tuple(...gaps.map((_, i) => messageArb(i))).map((msgs) => {
    let at = 0;
    return msgs.map((msg, i) => ({ at: (at += gaps[i]), msg }));
  }),
);

const runOf = (m: ServerMessage) => ('runId' in m ? m.runId : undefined);
const pageOnly = (m: ServerMessage) => m.type === 'stepHistogram' || m.type === 'system' || (m.type === 'checkpointed' && m.requestId === undefined);

/** What the filter sends, each with the time and the index of the message that made it go out. */
function through(filter: LiveLevelFilter, events: Event[]): Array<Event & { from: number }> {
  const out: Array<Event & { from: number }> = [];
  events.forEach((e, from) => {
    for (const m of filter.pass(e.msg, e.at)) out.push({ at: e.at, msg: m, from });
  });
  return out;
}
const plain = (out: Array<Event & { from: number }>): Event[] => out.map(({ at, msg }) => ({ at, msg }));

test('at `all` a connection gets every message as it comes', () => {
  fc.assert(fc.property(streamArb, (events) => {
    assert.deepEqual(plain(through(new LiveLevelFilter(), events)), events);
  }), fuzzOptions());
});

test('at `status`: no page-only messages, every other one in order, each run\'s metrics at most once a STATUS_METRICS_MS and never older than the run\'s next other message', () => {
  fc.assert(fc.property(streamArb, (events) => {
    const filter = new LiveLevelFilter();
    filter.level = 'status';
    const out = through(filter, events);
    // Every message that is neither page-only nor metrics passes, once, in the order it came.
    assert.deepEqual(out.filter((e) => e.msg.type !== 'metrics').map((e) => e.msg), events.map((e) => e.msg).filter((m) => !pageOnly(m) && m.type !== 'metrics'));
    assert.ok(!out.some((e) => pageOnly(e.msg)), 'no step histogram, system figures or routine checkpoint notice');
    for (const run of RUNS) {
      const sent = out.filter((e) => e.msg.type === 'metrics' && e.msg.runId === run);
      const given = events.filter((e) => e.msg.type === 'metrics' && e.msg.runId === run);
      // A subsequence of the run's metrics, in order, none twice.
      const steps = sent.map((e) => (e.msg as { step: number }).step);
      assert.deepEqual(steps, given.map((e) => (e.msg as { step: number }).step).filter((s) => steps.includes(s)));
      assert.equal(new Set(steps).size, steps.length);
      // The first of the run's metrics passes at once.
      if (given.length) assert.equal(steps[0], (given[0].msg as { step: number }).step);
      // Sent as they came (not held), at most one a STATUS_METRICS_MS.
      const direct = sent.filter((e) => events[e.from].msg === e.msg);
      for (let i = 1; i < direct.length; i++) assert.ok(direct[i].at - direct[i - 1].at >= STATUS_METRICS_MS || endedBetween(events, run, direct[i - 1].at, direct[i].at), `metrics of ${run} at ${direct[i - 1].at} and ${direct[i].at}`);
      // Before each other message of the run goes out, the run's newest metrics before it has gone out.
      const position = new Map(out.map((e, i) => [e.msg, i]));
      events.forEach((e, i) => {
        if (runOf(e.msg) !== run || e.msg.type === 'metrics' || pageOnly(e.msg)) return;
        const newest = events.slice(0, i).reverse().find((p) => p.msg.type === 'metrics' && p.msg.runId === run);
        if (newest) assert.ok((position.get(newest.msg) ?? Infinity) < position.get(e.msg)!, `${e.msg.type} at step ${(e.msg as { step: number }).step} went out before the metrics of step ${(newest.msg as { step: number }).step}`);
      });
    }
  }), fuzzOptions());
});

/** Whether run `run` ended (a state done, stopped or failed) at a time in [from, to]: the spacing starts again after it. */
function endedBetween(events: Event[], run: string, from: number, to: number): boolean {
  return events.some((e) => e.at >= from && e.at <= to && e.msg.type === 'state' && e.msg.runId === run && ['done', 'stopped', 'failed'].includes(e.msg.state));
}

test('changing the level forgets what was held: back at `all`, messages pass as they come', () => {
  fc.assert(fc.property(streamArb, fc.array(fc.constantFrom<LiveLevel>('all', 'status'), { minLength: 1, maxLength: 6 }), (events, levels) => {
    const filter = new LiveLevelFilter();
    const cut = Math.floor(events.length / 2);
    for (const l of levels) filter.level = l;
    through(filter, events.slice(0, cut));
    filter.level = 'all';
    assert.deepEqual(plain(through(filter, events.slice(cut))), events.slice(cut));
  }), fuzzOptions(100));
});

test('in a real sidecar, a connection at `status` gets a run\'s states, evaluations and last figures without the rest of its stream; back at `all` it gets the stream again', { timeout: 180_000 }, async () => {
  const sidecar = await startSidecar();
  try {
    const full = await TestClient.connect(sidecar.url);
    const quiet = await TestClient.connect(sidecar.url);
    await full.next('hello');
    await quiet.next('hello');
    quiet.send({ type: 'live', level: 'status' });
    full.send({ type: 'start', config: { data: 'sample', workers: 1, epochs: 100, maxSteps: 30000, checkpointEvery: 2000 }, requestId: 's' });
    const { runId } = await full.next('started', (m) => m.requestId === 's', 60_000);
    quiet.send({ type: 'subscribe', runId, requestId: 'h' });
    await quiet.next('history', (m) => m.runId === runId);
    const history = quiet.all('history')[0];
    const receivedAt: number[] = [];
    quiet.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      if (m.type === 'metrics' && m.runId === runId) receivedAt.push(performance.now());
    });
    await full.next('state', (m) => m.runId === runId && m.state === 'done', 150_000);
    await quiet.next('state', (m) => m.runId === runId && m.state === 'done', 10_000);
    const of = (c: TestClient) => c.received.filter((m) => runOf(m) === runId || m.type === 'system');
    const quietGot = of(quiet);
    const types = (c: TestClient) => new Set(of(c).map((m) => m.type));
    for (const t of ['stepHistogram', 'system', 'checkpointed'] as const) assert.ok(types(full).has(t), `the full client got ${t}`);
    assert.deepEqual(quietGot.filter(pageOnly), [], 'no step histogram, system figures or routine checkpoint notice at status');
    // Every evaluation and change of state, as the full client got them after the quiet one subscribed.
    const inHistory = new Set(history.evals.map((e) => e.step));
    const evals = (c: TestClient) => c.all('eval').filter((m) => m.runId === runId && !inHistory.has(m.step)).map((m) => m.step);
    assert.ok(evals(full).length >= 2, `${evals(full).length} evaluations`);
    assert.deepEqual(evals(quiet), evals(full));
    const states = (c: TestClient) => c.all('state').filter((m) => m.runId === runId).map((m) => m.state);
    assert.deepEqual(states(quiet), states(full).slice(-states(quiet).length));
    assert.equal(states(quiet).at(-1), 'done');
    // The run's metrics, fewer, but the last before `done` the run's last.
    const fullMetrics = full.all('metrics').filter((m) => m.runId === runId);
    const quietMetrics = quiet.all('metrics').filter((m) => m.runId === runId);
    assert.ok(quietMetrics.length >= 2 && quietMetrics.length < fullMetrics.length, `${quietMetrics.length} metrics at status, ${fullMetrics.length} at all`);
    assert.deepEqual(quietMetrics.at(-1), fullMetrics.at(-1), 'the last figures before the run ended');
    const doneAt = quiet.received.findIndex((m) => m.type === 'state' && m.runId === runId && m.state === 'done');
    assert.ok(quiet.received.indexOf(quietMetrics.at(-1)!) < doneAt, 'sent before the run\'s end');
    // At most one a STATUS_METRICS_MS, besides the ones held back and sent before an evaluation or a change of state.
    const seconds = (receivedAt.at(-1)! - receivedAt[0]) / 1000;
    const flushes = evals(quiet).length + states(quiet).length;
    assert.ok(quietMetrics.length <= Math.ceil((seconds * 1000) / STATUS_METRICS_MS) + 1 + flushes, `${quietMetrics.length} metrics in ${seconds.toFixed(1)} s with ${flushes} evaluations and states`);
    console.log(`status: ${quietMetrics.length} metrics in ${seconds.toFixed(1)} s (${flushes} evaluations and states); all: ${fullMetrics.length} metrics, ${of(full).length - fullMetrics.length} other messages`);
    // Back at `all`: the system figures come again (every 2 s).
    quiet.send({ type: 'live', level: 'all' });
    const before = quiet.received.length;
    await quiet.waitFor(() => quiet.received.slice(before).some((m) => m.type === 'system'), 10_000);
    await quiet.close();
    await full.close();
  } finally {
    await sidecar.kill();
  }
});
