// The server's connection handling against real sockets, with a stand-in message handler so the timing
// can be forced: dead clients are dropped by ping/pong, and a client that stops reading never holds up
// the sender (metrics are skipped for it; state messages are not).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { ClientMessage, MetricsMessage } from '../../sidecar/protocol';
import type { Client, MessageHandler } from '../../sidecar/runManager';
import { startServer } from '../../sidecar/server';
import { tempDir } from '../store/helpers';
import { delay, TestClient } from './sidecar';

function metrics(step: number): MetricsMessage {
  const updateRatio: Record<string, number> = {};
  for (let i = 0; i < 40; i++) updateRatio[`layer${i}`] = Math.random();
  return { type: 'metrics', runId: 'r', step, epoch: 0, samplesSeen: step * 4, loss: 2, lossMin: 1, lossMax: 3, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1, updateRatio };
}

/** On `list`, sends `count` metrics, 50 a turn of the event loop, then a state message. */
class Burst implements MessageHandler {
  sendMs = 0;
  constructor(private readonly count: number) {}
  listRuns() {
    return [];
  }
  async handle(client: Client, msg: ClientMessage) {
    if (msg.type !== 'list') return;
    const t0 = performance.now();
    for (let i = 1; i <= this.count; i++) {
      client.send(metrics(i));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    client.send({ type: 'state', runId: 'r', state: 'done' });
    this.sendMs = performance.now() - t0;
  }
  disconnect() {}
  async shutdown() {}
}

test('a client that does not answer pings is dropped; one that does stays', async () => {
  const server = await startServer({ runsDir: tempDir(), cacheDir: tempDir(), handler: new Burst(0), pingIntervalMs: 100 });
  after(() => server.close());
  const healthy = await TestClient.connect(server.url);
  const silent = await TestClient.connect(server.url, { autoPong: false });
  await silent.waitFor(() => silent.closed !== null, 2000);
  assert.equal(silent.closed!.code, 1006, 'terminated, not closed politely');
  await delay(300);
  assert.equal(healthy.closed, null);
  await healthy.close();
});

test('a client that stops reading skips metrics but gets the state message, and never slows the sender', async () => {
  const handler = new Burst(20_000); // about 20 MB of metrics at once
  const server = await startServer({ runsDir: tempDir(), cacheDir: tempDir(), handler });
  after(() => server.close());
  const slow = await TestClient.connect(server.url);
  await slow.next('hello');
  const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.pause(); // stop reading: the sidecar's send buffer for this client fills up
  slow.send({ type: 'list' });
  await delay(1500);
  assert.ok(handler.sendMs > 0 && handler.sendMs < 1500, `sending to a client that reads nothing took ${handler.sendMs} ms`);
  socket.resume();
  const state = await slow.next('state', () => true, 20_000);
  assert.equal(state.state, 'done');
  const got = slow.all('metrics').length;
  assert.ok(got < 20_000, `the slow client got ${got} of 20,000 metrics`);
  assert.ok(got > 0);
  assert.equal(slow.closed, null);

  const fast = await TestClient.connect(server.url);
  await fast.next('hello');
  fast.send({ type: 'list' });
  await fast.next('state', () => true, 20_000);
  assert.equal(fast.all('metrics').length, 20_000, 'a client that keeps up gets every one');
  await slow.close();
  await fast.close();
});

test('binary frames get a bad_message error', async () => {
  const server = await startServer({ runsDir: tempDir(), cacheDir: tempDir(), handler: new Burst(0) });
  after(() => server.close());
  const c = await TestClient.connect(server.url);
  await c.next('hello');
  c.ws.send(Buffer.from('{"type":"list"}'), { binary: true });
  const e = await c.next('error');
  assert.equal(e.code, 'bad_message');
  assert.match(e.message, /binary frames/);
  await c.close();
});

test('the server binds loopback only', async () => {
  await assert.rejects(startServer({ runsDir: tempDir(), cacheDir: tempDir(), host: '0.0.0.0', handler: new Burst(0) }), /loopback/);
});
