// How `adam-trainer serve` ends: with its parent (stdin or IPC), or on a signal, always with exit code 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { delay, startSidecar, TestClient, unrefDelay } from './sidecar';

async function exitsWithin(s: { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }, ms: number) {
  const t0 = Date.now();
  const r = await Promise.race([s.exited, unrefDelay(ms).then(() => null)]);
  assert.ok(r, `did not exit within ${ms} ms`);
  return { ...r, ms: Date.now() - t0 };
}

test('serve --exit-with-parent exits within 5 s when its stdin closes', async () => {
  const s = await startSidecar({ args: ['--exit-with-parent'] });
  const c = await TestClient.connect(s.url);
  await c.next('hello');
  s.proc.stdin!.end();
  const r = await exitsWithin(s, 5000);
  assert.equal(r.code, 0, s.stderr());
  await c.waitFor(() => c.closed !== null);
});

test('serve --exit-with-parent exits within 5 s when its IPC channel disconnects', async () => {
  const s = await startSidecar({ args: ['--exit-with-parent'], fork: true });
  await delay(200);
  assert.equal(s.proc.exitCode, null, 'still running while the parent is there');
  s.proc.disconnect();
  const r = await exitsWithin(s, 5000);
  assert.equal(r.code, 0, s.stderr());
});

test('without --exit-with-parent, closing stdin does not end it', async () => {
  const s = await startSidecar();
  s.proc.stdin!.end();
  await delay(500);
  assert.equal(s.proc.exitCode, null);
  await s.kill();
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} ends serve with exit code 0, closing its clients`, async () => {
    const s = await startSidecar();
    const c = await TestClient.connect(s.url);
    await c.next('hello');
    s.proc.kill(signal);
    const r = await exitsWithin(s, 5000);
    assert.equal(r.code, 0, s.stderr());
    await c.waitFor(() => c.closed !== null);
    assert.equal(c.closed!.code, 1001);
  });
}

test('serve refuses unknown flags with exit code 2, naming the flag', async () => {
  await assert.rejects(startSidecar({ args: ['--port', '80'] }), /exited with 2.*--port/s);
});
