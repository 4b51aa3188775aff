// Bad input on the wire gets a clear error and never a crash (DESIGN.md "WebSocket", "Quality bars").
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { delay, startSidecar, TestClient, type Sidecar } from './sidecar';

/** 200 hostile frames of one family (a connection's whole burst allowance, so none is rate limited). */
function hostileFrames(family: number): Array<string | Buffer> {
  const big = JSON.stringify({ type: 'list', junk: new Array(100_000).fill(1e308) });
  const deep = '['.repeat(50_000) + ']'.repeat(50_000);
  const deepObject = '{"type":"list","a":'.repeat(1) + '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_001);
  const templates: Array<(i: number) => string | Buffer> = [
    (i) => `{"type":"list"${'}'.repeat(i % 3)}x`, // broken JSON
    (i) => ['', ' ', 'null', 'true', '42', '"list"', '[]', '[{"type":"list"}]', 'NaN', 'undefined'][i % 10],
    (i) => JSON.stringify({ type: ['lst', 'START', 'hello', 'metrics', '__proto__', 'constructor', 'toString', '', 1, null][i % 10] }),
    (i) => JSON.stringify({ type: 'update', runId: 'r', learningRate: ['NaN', 'Infinity', '1e-3', null, true, [], {}, -1, 0, 2][i % 10] }),
    (i) => `{"type":"update","runId":"r","beta1":${['1e999', '-1e999', '1', '1.5', '-0.1'][i % 5]}}`,
    (i) => JSON.stringify({ type: 'start', config: { batchSize: [0, 1025, 3.5, '4', -4][i % 5] } }),
    (i) => JSON.stringify({ type: 'start', config: { learningRate: 1e-3 }, extra: i }), // unknown field
    (i) => JSON.stringify({ type: 'start', config: { lr: 1e-3, unknownField: i } }),
    (i) => JSON.stringify({ type: 'subscribe', runId: ['../x', '/etc/passwd', 'a/b', '', 'x'.repeat(200), 'a\u0000b', 'C:\\x', '~', '%2e%2e', 12][i % 10] }),
    (i) => JSON.stringify({ type: 'fork', runId: 'r', step: [-1, 1.5, '3', null, 1e999][i % 5], changes: {} }),
    (i) => `{"type":"list","__proto__":{"polluted":${i}}}`,
    (i) => JSON.stringify({ type: 'start', config: { optimizer: ['Adam', 'adamax', '', null, 'sgd '][i % 5] } }),
    (i) => JSON.stringify({ type: 'update', runId: 'r', requestId: 'x'.repeat(200 + i) }),
    () => big, // a huge array under the frame limit
    () => deep,
    () => deepObject,
    (i) => Buffer.from([0x7b, 0xff, 0xfe, i & 0xff]), // binary frame
    (i) => JSON.stringify({ type: 'start', config: {}, resumeFrom: ['relative.ckpt', '/nonexistent/x.ckpt', 'a\u0000b', ''][i % 4] }),
    (i) => JSON.stringify({ type: 'start', config: { data: ['relative/dir', 'a\u0000b', 'x'.repeat(5000)][i % 3] } }),
  ];
  return Array.from({ length: 200 }, (_, i) => templates[(i * 7 + family * 3) % templates.length](i));
}

describe('hostile frames', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('1,000 hostile frames each get an error and every connection stays open', async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(s.url)));
    await Promise.all(clients.map((c) => c.next('hello')));
    clients.forEach((c, family) => {
      for (const frame of hostileFrames(family)) c.send(frame);
    });
    for (const c of clients) {
      await c.waitFor(() => c.all('error').length >= 200, 20_000);
      const errors = c.all('error');
      assert.equal(errors.length, 200);
      for (const e of errors) {
        assert.notEqual(e.code, 'rate_limited');
        assert.notEqual(e.code, 'internal_error', e.message);
        assert.ok(e.message.length > 0);
      }
      assert.equal(c.all('started').length, 0, 'no hostile frame started a run');
      assert.equal(c.closed, null);
      c.send({ type: 'list', requestId: 'still-there' });
      const runs = await c.next('runs', (m) => m.requestId === 'still-there');
      assert.deepEqual(runs.runs, []);
    }
    assert.equal(s.proc.exitCode, null, 'the sidecar is still running');
  });

  test('errors name what is wrong', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    const cases: Array<[string, RegExp, string?]> = [
      ['{"type":', /not valid JSON/],
      ['[1]', /must be a JSON object with a "type"/],
      ['{"type":"lst"}', /unknown message type "lst"/],
      ['{"type":"update","runId":"r","learningRate":"NaN"}', /learningRate must be a finite number, got "NaN"/, 'learningRate'],
      ['{"type":"update","runId":"r","beta1":1e999}', /beta1/, 'beta1'],
      ['{"type":"start","config":{"batchSize":2048}}', /batchSize must be an integer in 1\.\.1024, got 2048/, 'config.batchSize'],
      ['{"type":"list","extra":1}', /unknown field extra/, 'extra'],
      ['{"type":"start","config":{"data":"relative/dir"}}', /data must be an absolute path or 'sample'/, 'data'],
    ];
    for (const [frame, pattern, field] of cases) {
      c.send(frame);
      const e = await c.next('error');
      assert.match(e.message, pattern, frame);
      if (field) assert.equal(e.field, field, frame);
    }
    await c.close();
  });

  test('a frame over 1 MiB closes that connection with 1009; others are unaffected', async () => {
    const bystander = await TestClient.connect(s.url);
    await bystander.next('hello');
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    c.send(JSON.stringify({ type: 'list', pad: 'x'.repeat(1_048_576) }));
    await c.waitFor(() => c.closed !== null);
    assert.equal(c.closed!.code, 1009);
    bystander.send({ type: 'list', requestId: 1 });
    await bystander.next('runs', (m) => m.requestId === 1);
    // Exactly at the limit is still a frame we read (and answer).
    const edge = await TestClient.connect(s.url);
    await edge.next('hello');
    const base = JSON.stringify({ type: 'list', pad: '' });
    edge.send(JSON.stringify({ type: 'list', pad: 'x'.repeat(1_048_576 - base.length) }));
    const e = await edge.next('error');
    assert.match(e.message, /unknown field pad/);
    assert.equal(edge.closed, null);
  });

  test('a flood is answered with rate_limited, the connection stays open, and the bucket refills', async () => {
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    for (let i = 0; i < 1000; i++) c.send({ type: 'list', requestId: i });
    await c.waitFor(() => c.all('runs').length + c.all('error').length >= 1000, 20_000);
    const limited = c.all('error').filter((e) => e.code === 'rate_limited');
    assert.ok(limited.length >= 700, `${limited.length} rate limited`);
    assert.ok(c.all('runs').length >= 200, `${c.all('runs').length} answered`);
    assert.match(limited[0].message, /200 messages a second/);
    assert.equal(c.closed, null);
    await delay(1100);
    for (let i = 0; i < 150; i++) c.send({ type: 'list', requestId: `after-${i}` });
    await c.next('runs', (m) => m.requestId === 'after-149');
    assert.equal(c.all('error').filter((e) => e.code === 'rate_limited').length, limited.length, 'after a pause no message is limited');
  });
});
