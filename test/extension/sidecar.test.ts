// Supervision of the sidecar with real processes: the real `adam-trainer serve` killed mid-run, and small
// fixture scripts that crash, lie in their handshake or ignore SIGTERM.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { listeningTcp } from '../server/sidecar';
import { Sidecar, type SidecarOptions, type SidecarState } from '../../extension/sidecar';
import type { ServerMessage } from '../../sidecar/protocol';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'adam-trainer.js');
const fixture = (name: string) => join(root, 'test', 'fixtures', 'sidecar', name);
const tmp = mkdtempSync(join(tmpdir(), 'adam-sidecar-'));
const started: Sidecar[] = [];

function ensureBuilt(): void {
  if (existsSync(join(root, 'dist', 'cli.js'))) return;
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  assert.equal(r.status, 0, 'the build failed');
}

/** A sidecar with everything it reports recorded, and a way to wait for what it reports next. */
function supervise(opts: Partial<SidecarOptions> = {}) {
  const messages: ServerMessage[] = [];
  const states: Array<{ state: SidecarState; detail?: string }> = [];
  const logs: string[] = [];
  const waiters: Array<() => void> = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  const sidecar = new Sidecar(
    { script: bin, runsDir: join(tmp, 'runs'), cacheDir: join(tmp, 'cache'), restartDelayMs: 50, ...opts },
    {
      message: (m) => (messages.push(m), poke()),
      state: (state, detail) => (states.push({ state, detail }), poke()),
      log: (line) => (logs.push(line), poke()),
    },
  );
  started.push(sidecar);
  async function until<T>(what: string, find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined && found !== false) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; states ${JSON.stringify(states)}; log:\n${logs.join('\n')}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }
  return { sidecar, messages, states, logs, until };
}

/** The --socket a sidecar process was started with (its command line). */
const socketOf = (pid: number): string | undefined => {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const i = args.indexOf('--socket');
  return i >= 0 ? args[i + 1] : undefined;
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

after(async () => {
  await Promise.all(started.map((s) => s.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

describe('sidecar supervision', { timeout: 90_000 }, () => {
  test('the real sidecar starts, says hello, and the token is never logged', async () => {
    ensureBuilt();
    const { sidecar, logs, until } = supervise();
    await sidecar.start();
    assert.equal(sidecar.state, 'ready');
    await until('hello', () => true);
    // Off Windows, on a Unix domain socket in a folder only this user may enter, and on no TCP port: a remote
    // window's VS Code forwards every port it finds listening (the Ports view, "Your application is available").
    const socket = socketOf(sidecar.pid!)!;
    assert.ok(socket?.startsWith(join(tmpdir(), 'adam-trainer-')), `started with --socket in a private folder: ${socket}`);
    assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700);
    assert.deepEqual(listeningTcp(sidecar.pid!), []);
    await until('the log line', () => logs.some((l) => l.includes(`listening on ${socket}`)));
    assert.ok(!logs.some((l) => l.includes('"listening"') || l.includes('token')), `a log line holds the handshake:\n${logs.join('\n')}`);
    await sidecar.stop();
    assert.equal(existsSync(dirname(socket)), false, 'the socket\'s folder is removed when the sidecar stops');
  });

  test('an extension host killed outright: the sidecar exits with it and removes its socket\'s folder', async () => {
    ensureBuilt();
    const host = mkdtempSync(join(tmp, 'host-'));
    // The extension host is a process of its own here, supervising the real sidecar as the extension does.
    const script = `
      const { Sidecar } = require(${JSON.stringify(join(root, 'extension', 'sidecar.ts'))});
      const quiet = { message() {}, state() {}, log() {} };
      const s = new Sidecar({ script: ${JSON.stringify(bin)}, runsDir: ${JSON.stringify(join(host, 'runs'))}, cacheDir: ${JSON.stringify(join(host, 'cache'))}, tmpDir: ${JSON.stringify(host)} }, quiet);
      s.start().then(() => console.log(JSON.stringify({ pid: s.pid })));
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the host exited with ${code} before its sidecar started`)));
    });
    const pid = (JSON.parse(line) as { pid: number }).pid;
    const socket = socketOf(pid)!;
    assert.ok(socket?.startsWith(join(host, 'adam-trainer-')), socket);
    assert.ok(existsSync(socket));
    child.kill('SIGKILL');
    // Gone, or a zombie (its new parent may not reap it at once): either way it has exited.
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 150 && (running() || existsSync(dirname(socket))); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(), false, 'the sidecar exits when its parent is gone');
    assert.deepEqual(readdirSync(host).filter((f) => f.startsWith('adam-trainer-')), [], 'no socket folder is left behind');
  });

  test('with socket: false it listens on a loopback port, as on Windows', async () => {
    ensureBuilt();
    const { sidecar, messages, logs, until } = supervise({ socket: false });
    await sidecar.start();
    await until('hello', () => messages.some((m) => m.type === 'hello'));
    assert.equal(socketOf(sidecar.pid!), undefined);
    assert.equal(listeningTcp(sidecar.pid!).length, 1);
    await until('the log line', () => logs.some((l) => l.includes('listening on 127.0.0.1:')));
    await sidecar.stop();
  });

  test('a temporary folder too deep for a socket\'s path: a loopback port instead, and the log says why', async () => {
    ensureBuilt();
    const deep = join(tmp, 'd'.repeat(100));
    mkdirSync(deep);
    const { sidecar, messages, logs, until } = supervise({ tmpDir: deep });
    await sidecar.start();
    await until('hello', () => messages.some((m) => m.type === 'hello'));
    assert.equal(socketOf(sidecar.pid!), undefined);
    assert.equal(listeningTcp(sidecar.pid!).length, 1);
    assert.ok(logs.some((l) => /too long for a Unix domain socket/.test(l)), logs.join('\n'));
    assert.deepEqual(readdirSync(deep), [], 'the folder made for the socket is removed');
    await sidecar.stop();
  });

  test('a crashed sidecar is restarted and the run it was training resumes from its latest checkpoint', async () => {
    ensureBuilt();
    const { sidecar, messages, states, until } = supervise();
    await sidecar.start();
    assert.ok(sidecar.send({ type: 'start', config: { data: 'sample', epochs: 100, checkpointEvery: 100, workers: 1 }, requestId: 'first' }));
    const runId = await until('started', () => messages.find((m) => m.type === 'started')?.runId);
    const checkpointStep = await until('a checkpoint', () => {
      const c = messages.find((m) => m.type === 'checkpointed' && m.runId === runId && m.path.endsWith('latest.ckpt'));
      return c?.type === 'checkpointed' ? c.step : undefined;
    });
    const firstPid = sidecar.pid!;
    const firstSocket = socketOf(firstPid)!;
    const before = messages.length;
    process.kill(firstPid, 'SIGKILL');

    await until('a restart', () => states.some((s) => s.state === 'restarting'));
    await until('ready again', () => sidecar.state === 'ready' && sidecar.pid !== firstPid);
    const resumed = await until('the run resumed', () => messages.slice(before).find((m) => m.type === 'started' && m.runId === runId));
    assert.equal(resumed.type === 'started' && resumed.runId, runId, 'the run continues in place, under its own id');
    // Messages the killed process had already sent may still arrive after the kill: look after the resume.
    const resumedAt = messages.indexOf(resumed);
    const next = await until('metrics after the resume', () => messages.slice(resumedAt).find((m) => m.type === 'metrics' && m.runId === runId));
    assert.ok(next.type === 'metrics' && next.step > checkpointStep, `training continued from the checkpoint (step ${checkpointStep}), got metrics at ${next.type === 'metrics' && next.step}`);
    assert.equal(alive(firstPid), false);
    // A killed sidecar cannot remove its socket: its folder goes when the supervisor sees it exit, and the new one
    // gets a folder of its own.
    assert.equal(existsSync(dirname(firstSocket)), false, 'the killed sidecar\'s socket folder is removed');
    const secondSocket = socketOf(sidecar.pid!)!;
    assert.notEqual(dirname(secondSocket), dirname(firstSocket));
    assert.ok(existsSync(secondSocket));
    await sidecar.stop();
  });

  test('after 5 crashes within 3 minutes it stops restarting and says so', async () => {
    const { sidecar, states, logs, until } = supervise({ script: fixture('exits-at-once.js'), args: [] });
    await assert.rejects(sidecar.start());
    const failed = await until('giving up', () => states.find((s) => s.state === 'failed'));
    assert.match(failed.detail ?? '', /crashed 5 times in 3 minutes/);
    assert.equal(logs.filter((l) => l.startsWith('sidecar started')).length, 5);
    assert.ok(logs.includes('fixture: crashing at once'), 'the crashing process\'s stderr is in the log');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(logs.filter((l) => l.startsWith('sidecar started')).length, 5, 'no restart after giving up');
  });

  test('a first line that is not the handshake fails the start with a reason', async () => {
    const { sidecar, logs } = supervise({ script: fixture('bad-handshake.js'), args: [], maxCrashes: 1 });
    await assert.rejects(sidecar.start(), /not the JSON handshake/);
    assert.ok(logs.some((l) => l.includes('not the JSON handshake')));
  });

  test('stop sends SIGTERM and the real sidecar exits on its own', async () => {
    ensureBuilt();
    const { sidecar, logs } = supervise();
    await sidecar.start();
    const pid = sidecar.pid!;
    const t0 = Date.now();
    await sidecar.stop();
    assert.ok(Date.now() - t0 < 3000, 'exited before the kill timeout');
    assert.equal(alive(pid), false);
    assert.equal(sidecar.state, 'stopped');
    assert.ok(logs.some((l) => l.includes('SIGTERM')), 'the sidecar said why it exited');
  });

  test('a sidecar that ignores SIGTERM is killed after the timeout', async () => {
    const { sidecar, logs } = supervise({ script: fixture('ignores-sigterm.js'), args: [], killTimeoutMs: 300 });
    await sidecar.start();
    const pid = sidecar.pid!;
    await sidecar.stop();
    assert.equal(alive(pid), false);
    assert.ok(logs.some((l) => l.includes('did not exit within 300 ms')));
  });
});
