// `serve --socket`: the sidecar on a Unix domain socket, as the extension starts it off Windows, so that a remote
// window's VS Code finds no port of ours to forward. A real process, real clients over the socket, and the kernel's
// own socket tables (/proc/net) to show that it listens on no TCP port. (Linux: the extension uses a port on Windows.)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { delay, listeningTcp, startSidecar, TestClient, type Sidecar } from './sidecar';

const dir = mkdtempSync(join(tmpdir(), 'adam-socket-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('serve --socket: the WebSocket on a Unix domain socket', () => {
  let s: Sidecar;
  const path = join(dir, 'sidecar.sock');
  before(async () => {
    s = await startSidecar({ args: ['--socket', path] });
  });
  after(() => s.kill());

  test('the listening line names the socket, with port 0 and a ws+unix URL', async () => {
    assert.equal(s.port, 0);
    assert.equal(s.url, `ws+unix://${path}:/?token=${s.token}`);
    assert.ok(existsSync(path), 'the socket file exists while the sidecar runs');
    // stderr's line follows the listening line on stdout.
    for (let i = 0; i < 50 && !s.stderr().includes('listening on'); i++) await delay(100);
    assert.match(s.stderr(), new RegExp(`listening on ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('a client with the token gets hello over the socket, and can start and stop a run', async () => {
    const c = await TestClient.connect(s.url);
    const hello = await c.next('hello');
    assert.deepEqual(hello.runs, []);
    c.send({ type: 'start', config: { data: 'sample', workers: 1, logEvery: 20, maxSteps: 40 }, requestId: 'r1' });
    const started = await c.next('started', (m) => m.requestId === 'r1', 30_000);
    await c.next('state', (m) => m.runId === started.runId && m.state === 'done', 60_000);
    assert.equal(c.all('metrics').at(-1)?.step, 40);
    await c.close();
  });

  test('without the token, or with any Origin (no page can open a socket), the upgrade is refused', async () => {
    await assert.rejects(TestClient.connect(`ws+unix://${path}:/`), { status: 401 });
    await assert.rejects(TestClient.connect(`ws+unix://${path}:/?token=${s.token}x`), { status: 401 });
    for (const origin of ['http://127.0.0.1', 'http://localhost:0', 'vscode-webview://abc']) {
      await assert.rejects(TestClient.connect(s.url, { origin }), { status: 403 }, origin);
    }
  });

  test('the process listens on no TCP port, so a remote window\'s port scan finds nothing to forward', () => {
    assert.deepEqual(listeningTcp(s.proc.pid!), []);
  });

  test('the check above sees the port of a sidecar without --socket', async () => {
    const tcp = await startSidecar();
    try {
      const ports = listeningTcp(tcp.proc.pid!).map((a) => parseInt(a.split(':')[1], 16));
      assert.deepEqual(ports, [tcp.port]);
    } finally {
      await tcp.kill();
    }
  });

  test('on SIGTERM it exits and removes its socket', async () => {
    const other = join(dir, 'term.sock');
    const t = await startSidecar({ args: ['--socket', other] });
    assert.ok(existsSync(other));
    t.proc.kill('SIGTERM');
    const { code, signal } = await t.exited;
    assert.equal(code, 0, `exited with ${signal ?? code}: ${t.stderr()}`);
    assert.equal(existsSync(other), false, 'the socket is gone');
  });

  test('with --remove-socket-folder, its folder goes too when it exits with its parent (stdin closed)', async () => {
    const folder = join(dir, 'owned');
    mkdirSync(folder);
    const t = await startSidecar({ args: ['--socket', join(folder, 's.sock'), '--remove-socket-folder', '--exit-with-parent'] });
    t.proc.stdin!.end();
    const { code, signal } = await t.exited;
    assert.equal(code, 0, `exited with ${signal ?? code}: ${t.stderr()}`);
    assert.match(t.stderr(), /stdin closed/);
    assert.equal(existsSync(folder), false, 'the folder is gone');
  });

  test('with --remove-socket-folder, a folder that holds anything else is left as it is', async () => {
    const folder = join(dir, 'shared');
    mkdirSync(folder);
    writeFileSync(join(folder, 'notes.txt'), 'mine');
    const t = await startSidecar({ args: ['--socket', join(folder, 's.sock'), '--remove-socket-folder'] });
    t.proc.kill('SIGTERM');
    assert.equal((await t.exited).code, 0, t.stderr());
    assert.deepEqual(readdirSync(folder), ['notes.txt']);
    assert.equal(readFileSync(join(folder, 'notes.txt'), 'utf8'), 'mine');
  });
});

describe('serve refuses a bad --socket with exit 2, naming what is wrong', () => {
  test('a path that exists (never removed: it may be the user\'s file)', async () => {
    const taken = join(dir, 'taken');
    writeFileSync(taken, 'mine');
    await assert.rejects(startSidecar({ args: ['--socket', taken] }), /--socket .*taken already exists/);
    assert.equal(readFileSync(taken, 'utf8'), 'mine');
  });

  test('a folder that does not exist', async () => {
    await assert.rejects(startSidecar({ args: ['--socket', join(dir, 'no', 'such', 's.sock')] }), /its folder .*no\/such does not exist/);
  });

  test('a colon, which a ws+unix URL cannot carry', async () => {
    await assert.rejects(startSidecar({ args: ['--socket', join(dir, 'a:b.sock')] }), /has a colon/);
  });

  test('a path longer than a socket address holds', async () => {
    await assert.rejects(startSidecar({ args: ['--socket', join(dir, 'x'.repeat(120) + '.sock')] }), /bytes long; a Unix domain socket's path may have at most 10[37]/);
  });

  test('--remove-socket-folder without --socket', async () => {
    await assert.rejects(startSidecar({ args: ['--remove-socket-folder'] }), /--remove-socket-folder goes with --socket PATH/);
  });

  test('an empty path', async () => {
    await assert.rejects(startSidecar({ args: ['--socket', ''] }), /--socket must be a non-empty path/);
  });
});
