// DESIGN.md "Security of the local server", against a real `adam-trainer serve`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest, startSidecar, TestClient, upgradeHeaders, type Sidecar } from './sidecar';

describe('the sidecar only accepts WebSocket connections that prove they are ours', () => {
  let s: Sidecar;
  before(async () => {
    s = await startSidecar();
  });
  after(() => s.kill());

  test('the listening line carries a 32-byte token and a loopback URL', () => {
    assert.ok(Buffer.from(s.token, 'base64url').length >= 32);
    assert.equal(s.url, `ws://127.0.0.1:${s.port}/?token=${s.token}`);
    assert.ok(!s.stderr().includes(s.token), 'the token appears nowhere but the listening line');
  });

  test('a client with the token gets hello with the protocol version and the runs', async () => {
    const c = await TestClient.connect(s.url);
    const hello = await c.next('hello');
    assert.equal(hello.protocolVersion, 2, 'version 2: a history sends its metrics as columns');
    assert.deepEqual(hello.runs, []);
    await c.close();
  });

  test('no token, a wrong token, or a token differing in one character is refused with 401', async () => {
    const wrong = s.token.slice(0, -1) + (s.token.endsWith('A') ? 'B' : 'A');
    for (const path of ['/', '/?token=', `/?token=${wrong}`, `/?token=${s.token}x`, `/?tok=${s.token}`]) {
      const r = await rawRequest(s.port, path, upgradeHeaders({ Host: `127.0.0.1:${s.port}` }));
      assert.equal(r.upgraded, false, path);
      assert.equal(r.status, 401, path);
    }
    await assert.rejects(TestClient.connect(`ws://127.0.0.1:${s.port}/`), { status: 401 });
  });

  test('a foreign Origin is refused with 403 even with the token, including look-alikes', async () => {
    const origins = [
      'http://evil.example',
      `http://127.0.0.1:${s.port}.evil.example`,
      `http://localhost:${s.port}@evil`,
      `http://127.0.0.1:${s.port + 1}`,
      `https://127.0.0.1:${s.port}`,
      `http://127.0.0.1:${s.port}/`,
      `http://LOCALHOST:${s.port}x`,
      'null',
      `http://127.0.0.1:${s.port}, http://evil.example`,
    ];
    for (const origin of origins) {
      const r = await rawRequest(s.port, `/?token=${s.token}`, upgradeHeaders({ Host: `127.0.0.1:${s.port}`, Origin: origin }));
      assert.equal(r.status, 403, origin);
      assert.equal(r.upgraded, false, origin);
    }
  });

  test('our own origins are accepted', async () => {
    for (const origin of [`http://127.0.0.1:${s.port}`, `http://localhost:${s.port}`]) {
      const c = await TestClient.connect(s.url, { origin });
      await c.next('hello');
      await c.close();
    }
  });

  test('a foreign Host header (DNS rebinding) is refused with 403, on upgrades and on pages', async () => {
    for (const host of [`evil.example:${s.port}`, `127.0.0.1:${s.port + 1}`, '127.0.0.1', `127.0.0.1.evil.example:${s.port}`]) {
      const r = await rawRequest(s.port, `/?token=${s.token}`, upgradeHeaders({ Host: host }));
      assert.equal(r.status, 403, host);
      const page = await rawRequest(s.port, '/', { Host: host });
      assert.equal(page.status, 403, host);
    }
    for (const host of [`localhost:${s.port}`, `[::1]:${s.port}`]) {
      const r = await rawRequest(s.port, `/?token=${s.token}`, upgradeHeaders({ Host: host }));
      assert.equal(r.upgraded, true, host);
    }
  });

  test('/?token= redirects to / with an HttpOnly SameSite=Strict cookie, and the cookie authenticates the WebSocket', async () => {
    const r = await rawRequest(s.port, `/?token=${s.token}`, { Host: `127.0.0.1:${s.port}` });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, '/');
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const pair = cookie.split(';')[0];
    const c = await TestClient.connect(`ws://127.0.0.1:${s.port}/`, { headers: { Cookie: pair }, origin: `http://127.0.0.1:${s.port}` });
    await c.next('hello');
    await c.close();
    const withRun = await rawRequest(s.port, `/?token=${s.token}&run=r1`, { Host: `127.0.0.1:${s.port}` });
    assert.equal(withRun.headers.location, '/?run=r1', 'the rest of the query survives the redirect');
    const bad = await rawRequest(s.port, '/?token=nope', { Host: `127.0.0.1:${s.port}` });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['set-cookie'], undefined);
    await assert.rejects(TestClient.connect(`ws://127.0.0.1:${s.port}/`, { headers: { Cookie: `adam_trainer_token_${s.port}=nope` } }), { status: 401 });
  });

  test('the dashboard is served with the CSP, no-referrer and nosniff headers, and no CORS allowance', async () => {
    const r = await rawRequest(s.port, '/', { Host: `127.0.0.1:${s.port}`, Origin: 'http://evil.example' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.equal(
      r.headers['content-security-policy'],
      `default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src ws://127.0.0.1:${s.port} ws://localhost:${s.port}; img-src 'self' data:`,
    );
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.ok(!r.body.includes(s.token), 'the page holds no token');
  });

  test('the static server serves only its own bundle folder', async () => {
    const host = { Host: `127.0.0.1:${s.port}` };
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/....//package.json', '/%00', '/%zz', '/nonexistent.js', '//etc/passwd']) {
      const r = await rawRequest(s.port, path, host);
      assert.ok(r.status === 404 || r.status === 400, `${path} gave ${r.status}`);
      assert.ok(!r.body.includes('"name"'), path);
    }
    const js = await rawRequest(s.port, '/dashboard.js', host);
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    const post = await rawRequest(s.port, '/', host, 'POST');
    assert.equal(post.status, 405);
  });
});
