import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_MS, batchWaitMs, MAX_BATCH_MS, Relay } from '../../extension/relay';
import { hostBatchSchema, MAX_BATCH_MESSAGES, resolveConfig, type ClientMessage, type ServerMessage } from '../../sidecar/protocol';

function relay(opts: { connected?: boolean; followed?: string[] } = {}) {
  const posted: unknown[] = [];
  const sent: ClientMessage[] = [];
  const r = new Relay({
    post: (m) => posted.push(m),
    send: (m) => (opts.connected === false ? false : (sent.push(m), true)),
    followed: () => new Set(opts.followed ?? []),
  });
  return { r, posted, sent };
}
const config = resolveConfig({}, 2);
const hello: ServerMessage = { type: 'hello', protocolVersion: 1, runs: [{ runId: 'r1', state: 'running', config }] };
const metrics: ServerMessage = { type: 'metrics', runId: 'r1', step: 100, epoch: 0.1, samplesSeen: 400, loss: 2, lossMin: 1, lossMax: 3, accuracy: 0.2, learningRate: 0.001, samplesPerSec: 5000, updateRatio: {} };

test('nothing is posted to the webview before it says ready', () => {
  const { r, posted } = relay();
  r.setConnection('open');
  r.fromSidecar(hello);
  r.fromSidecar(metrics);
  assert.deepEqual(posted, []);
});

test('on ready the webview gets the connection state and the whole run list at once', () => {
  const { r, posted } = relay();
  r.setConnection('open');
  r.fromSidecar(hello);
  r.fromSidecar({ type: 'started', runId: 'r2', config });
  r.fromSidecar({ type: 'state', runId: 'r1', state: 'paused', step: 300 });
  r.fromWebview({ type: 'ready' });
  assert.deepEqual(posted[0], { type: 'host', connection: 'open' });
  const h = posted[1] as Extract<ServerMessage, { type: 'hello' }>;
  assert.equal(h.type, 'hello');
  assert.deepEqual(h.runs.map((x) => [x.runId, x.state]), [['r1', 'paused'], ['r2', 'running']]);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const histogram = (step: number): ServerMessage => ({ type: 'stepHistogram', runId: 'r1', step, columns: [] } as unknown as ServerMessage);
const metricsAt = (step: number): ServerMessage => ({ ...metrics, step } as ServerMessage);

test('after ready, a reply or a change of state is passed on at once', () => {
  const { r, posted } = relay();
  r.fromWebview({ type: 'ready' });
  const before = posted.length;
  const state: ServerMessage = { type: 'state', runId: 'r1', state: 'paused', step: 300 };
  const asked: ServerMessage = { type: 'checkpointed', runId: 'r1', step: 300, path: '/runs/r1/step-300.ckpt', requestId: 'web-4' };
  r.fromSidecar(state);
  r.fromSidecar(asked);
  assert.deepEqual(posted.slice(before), [state, asked]);
  r.dispose();
});

test('the live stream is posted within BATCH_MS, in one post, in the sidecar\'s order', async () => {
  const { r, posted } = relay();
  r.fromWebview({ type: 'ready' });
  const before = posted.length;
  const live = [metricsAt(100), histogram(100), metricsAt(104), { type: 'checkpointed', runId: 'r1', step: 104, path: '/runs/r1/latest.ckpt' } as ServerMessage, { type: 'system', cpuPercent: 180, rssBytes: 1e8 } as unknown as ServerMessage];
  for (const m of live) r.fromSidecar(m);
  assert.equal(posted.length, before, 'nothing yet: they wait for the batch');
  await sleep(BATCH_MS + 100);
  assert.deepEqual(posted.slice(before), [{ type: 'batch', messages: live }]);
  // One message alone is posted as itself.
  r.fromSidecar(metricsAt(108));
  await sleep(BATCH_MS + 100);
  assert.deepEqual(posted.at(-1), metricsAt(108));
  assert.equal(posted.length, before + 2);
  r.dispose();
});

test('once the page says how often it draws, a batch waits half of that (within BATCH_MS and MAX_BATCH_MS); a new page starts from BATCH_MS', async () => {
  assert.equal(batchWaitMs(0), BATCH_MS);
  assert.equal(batchWaitMs(1400), 700);
  assert.equal(batchWaitMs(60_000), MAX_BATCH_MS);
  const { r, posted, sent } = relay();
  r.fromWebview({ type: 'ready' });
  r.fromWebview({ type: 'pace', drawEveryMs: 1400 });
  assert.deepEqual(sent, [], 'the pace is for the relay, never sent to the sidecar');
  const before = posted.length;
  r.fromSidecar(metricsAt(100));
  r.fromSidecar(histogram(100));
  await sleep(BATCH_MS + 100);
  assert.equal(posted.length, before, 'still waiting after BATCH_MS');
  await sleep(700 - BATCH_MS);
  assert.deepEqual(posted.slice(before), [{ type: 'batch', messages: [metricsAt(100), histogram(100)] }], 'posted after 700 ms');
  // Something other than the live stream is not held by the pace.
  const state: ServerMessage = { type: 'state', runId: 'r1', state: 'paused', step: 100 };
  r.fromSidecar(state);
  assert.deepEqual(posted.at(-1), state);
  // The panel hidden and shown again: a new page, which has not timed a frame yet.
  r.webviewGone();
  r.fromWebview({ type: 'ready' });
  r.fromSidecar(metricsAt(104));
  await sleep(BATCH_MS + 100);
  assert.deepEqual(posted.at(-1), metricsAt(104));
  r.dispose();
});

test('a malformed pace is answered with an error that names it, and changes nothing', async () => {
  const { r, posted, sent } = relay();
  r.fromWebview({ type: 'ready' });
  for (const bad of [{ type: 'pace', drawEveryMs: -1 }, { type: 'pace', drawEveryMs: 'soon' }, { type: 'pace' }, { type: 'pace', drawEveryMs: 500, extra: 1 }]) {
    const before = posted.length;
    r.fromWebview(bad);
    const error = posted.at(-1) as { type: string; message: string };
    assert.equal(posted.length, before + 1, JSON.stringify(bad));
    assert.equal(error.type, 'error');
    assert.match(error.message, /pace/, error.message);
  }
  assert.deepEqual(sent, []);
  const before = posted.length;
  r.fromSidecar(metricsAt(100));
  await sleep(BATCH_MS + 100);
  assert.deepEqual(posted.slice(before), [metricsAt(100)], 'still batched at BATCH_MS');
  r.dispose();
});

test('a message posted at once comes after the live messages that came before it, and so does a change of connection', () => {
  const { r, posted } = relay();
  r.fromWebview({ type: 'ready' });
  const before = posted.length;
  const state: ServerMessage = { type: 'state', runId: 'r1', state: 'done', step: 108 };
  r.fromSidecar(metricsAt(104));
  r.fromSidecar(metricsAt(108));
  r.fromSidecar(state);
  assert.deepEqual(posted.slice(before), [{ type: 'batch', messages: [metricsAt(104), metricsAt(108)] }, state]);
  r.fromSidecar(metricsAt(112));
  r.setConnection('closed', 'the sidecar stopped');
  assert.deepEqual(posted.slice(before + 2), [metricsAt(112), { type: 'host', connection: 'closed', detail: 'the sidecar stopped' }]);
  r.dispose();
});

test('a batch never holds more than MAX_BATCH_MESSAGES, and a webview that went away gets none of what waited', async () => {
  const { r, posted } = relay();
  r.fromWebview({ type: 'ready' });
  const before = posted.length;
  for (let i = 0; i < MAX_BATCH_MESSAGES + 3; i++) r.fromSidecar(metricsAt(i));
  assert.equal(posted.length, before + 1, 'a full batch is posted at once');
  const full = posted.at(-1) as { type: string; messages: ServerMessage[] };
  assert.equal(full.type, 'batch');
  assert.equal(full.messages.length, MAX_BATCH_MESSAGES);
  assert.ok(hostBatchSchema.safeParse(full).success, 'the page accepts it');
  assert.equal(hostBatchSchema.safeParse({ type: 'batch', messages: [...full.messages, metrics] }).success, false, 'and would refuse a longer one');
  r.webviewGone();
  await sleep(BATCH_MS + 100);
  assert.equal(posted.length, before + 1, 'the 3 left over were dropped with the page: it asks for the history when it is back');
  r.dispose();
});

test('a valid message from the webview is sent to the sidecar', () => {
  const { r, sent } = relay();
  r.fromWebview({ type: 'update', runId: 'r1', learningRate: 0.003, requestId: 'web-1' });
  assert.deepEqual(sent, [{ type: 'update', runId: 'r1', learningRate: 0.003, requestId: 'web-1' }]);
});

test('an invalid message from the webview is answered with an error and never sent', () => {
  const { r, posted, sent } = relay();
  r.fromWebview({ type: 'ready' });
  r.fromWebview({ type: 'update', runId: 'r1', beta1: 1.5 });
  r.fromWebview({ type: 'shutdown' });
  assert.deepEqual(sent, []);
  const errors = posted.filter((m) => (m as { type: string }).type === 'error') as Array<{ message: string }>;
  assert.equal(errors.length, 2);
  assert.match(errors[0].message, /beta1 must be in \[0, 1\), got 1\.5/);
});

test('the webview cannot unsubscribe a run the extension follows', () => {
  const { r, sent } = relay({ followed: ['r1'] });
  r.fromWebview({ type: 'unsubscribe', runId: 'r1' });
  r.fromWebview({ type: 'unsubscribe', runId: 'r2' });
  assert.deepEqual(sent, [{ type: 'unsubscribe', runId: 'r2' }]);
});

test('a request while the sidecar is down gets an error with its request id', () => {
  const { r, posted } = relay({ connected: false });
  r.fromWebview({ type: 'ready' });
  r.fromWebview({ type: 'pause', runId: 'r1', requestId: 'web-7' });
  assert.deepEqual(posted.at(-1), { type: 'error', code: 'not_connected', message: 'The sidecar is not running; it is being started or restarted.', requestId: 'web-7' });
});

test('a reopened webview says ready again and gets the state again', () => {
  const { r, posted } = relay();
  r.setConnection('open');
  r.fromSidecar(hello);
  r.fromWebview({ type: 'ready' });
  r.webviewGone();
  r.fromSidecar(metrics);
  const count = posted.length;
  r.fromWebview({ type: 'ready' });
  assert.equal(posted.length, count + 2);
  assert.equal((posted.at(-1) as { type: string }).type, 'hello');
});

test('runs started before the webview was ready are announced to it after hello, in order', () => {
  const { r, posted } = relay();
  r.setConnection('open');
  r.fromSidecar(hello);
  const adam: ServerMessage = { type: 'started', runId: 'a', config, requestId: 'compare-ext-1' };
  const sgd: ServerMessage = { type: 'started', runId: 's', config: { ...config, optimizer: 'sgd' }, requestId: 'compare-ext-2' };
  r.fromSidecar(adam);
  r.fromSidecar(sgd);
  r.fromWebview({ type: 'ready' });
  assert.deepEqual(posted.map((m) => (m as { type: string }).type), ['host', 'hello', 'started', 'started']);
  assert.deepEqual(posted.slice(2), [adam, sgd]);
  r.webviewGone();
  r.fromWebview({ type: 'ready' });
  assert.equal(posted.filter((m) => (m as { type: string }).type === 'started').length, 2, 'announced once');
});

test('a comparison started before the webview was ready is replayed after hello, its runs listed with their group', () => {
  const { r, posted } = relay();
  r.setConnection('open');
  r.fromSidecar(hello);
  const group = { id: 'compare-20260101-000000-abcdef', optimizers: ['adam' as const, 'sgd' as const], seeds: [1, 2] };
  r.fromSidecar({ type: 'comparing', group, requestId: 'compare-1' });
  r.fromSidecar({ type: 'started', runId: 'r2', config, group });
  r.fromWebview({ type: 'ready' });
  const types = posted.map((m) => (m as { type: string }).type);
  assert.deepEqual(types, ['host', 'hello', 'comparing', 'started']);
  const runs = (posted[1] as Extract<ServerMessage, { type: 'hello' }>).runs;
  assert.deepEqual(runs.find((x) => x.runId === 'r2')?.group, group);
});

test('the relay asks the sidecar for the status level while no page is ready, for all of the stream while one is, before the page\'s own messages', () => {
  const { r, sent } = relay();
  r.fromWebview({ type: 'ready' }); // before the sidecar is connected: nothing to tell it yet
  r.webviewGone();
  assert.deepEqual(sent, []);
  r.setConnection('open');
  assert.deepEqual(sent, [{ type: 'live', level: 'status' }], 'a new connection with no page');
  r.fromWebview({ type: 'ready' });
  r.fromWebview({ type: 'subscribe', runId: 'r1', requestId: 'web-1' });
  assert.deepEqual(sent.slice(1), [{ type: 'live', level: 'all' }, { type: 'subscribe', runId: 'r1', requestId: 'web-1' }]);
  r.webviewGone();
  r.webviewGone(); // closed after it was hidden: said once
  assert.deepEqual(sent.slice(3), [{ type: 'live', level: 'status' }]);
  // A sidecar restarted while a page is ready: its new connection gets `all` at once.
  r.fromWebview({ type: 'ready' });
  r.setConnection('connecting');
  r.setConnection('open');
  assert.deepEqual(sent.slice(4), [{ type: 'live', level: 'all' }, { type: 'live', level: 'all' }]);
  r.dispose();
});

test('the page cannot set the connection\'s level: the relay does', () => {
  const { r, sent, posted } = relay();
  r.setConnection('open');
  r.fromWebview({ type: 'ready' });
  const before = sent.length;
  r.fromWebview({ type: 'live', level: 'status' });
  assert.equal(sent.length, before);
  assert.ok(!posted.some((m) => (m as { type: string }).type === 'error'));
  r.dispose();
});
