// How `adam-trainer serve` ends: with its parent (stdin or IPC), or on a signal, always with exit code 0; and how it
// starts: by clearing what writers killed mid-write left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCheckpoint, writeCheckpointAtomic } from '../../sidecar/store/checkpoint';
import { sampleState, tempDir } from '../store/helpers';
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

test('serve starts by removing the temporary files of writers killed mid-write, and keeps a live writer\'s', async () => {
  const runsDir = tempDir();
  const runDir = join(runsDir, '20260101-000000-abcdef');
  mkdirSync(runDir);
  const file = join(runDir, 'latest.ckpt');
  await writeCheckpointAtomic(file, sampleState());
  // A real writer, killed while a write is under way: kill -9 as soon as its temporary file is seen, until one stays.
  const temps = () => readdirSync(runDir).filter((n) => n.endsWith('.tmp'));
  for (let attempt = 0; attempt < 20 && temps().length === 0; attempt++) {
    const script = `
      const { writeCheckpointAtomic } = require(${JSON.stringify(require.resolve('../../sidecar/store/checkpoint'))});
      const { sampleState } = require(${JSON.stringify(require.resolve('../store/helpers'))});
      (async () => { for (let step = 1; ; step++) await writeCheckpointAtomic(${JSON.stringify(file)}, sampleState({ step })); })();`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (temps().length === 0 && Date.now() < deadline) await delay(0);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  const killed = temps();
  assert.equal(killed.length, 1, 'a killed writer left its temporary file');
  const live = `.latest.ckpt.${process.pid}.0badf00d.tmp`; // this process is alive: its write may be under way
  writeFileSync(join(runDir, live), 'half a checkpoint');
  const old = `.status.json.${process.pid}.0ddba11a.tmp`; // alive, but two hours old: no write takes that long
  writeFileSync(join(runDir, old), '{');
  utimesSync(join(runDir, old), new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));

  const s = await startSidecar({ runsDir });
  try {
    assert.deepEqual(temps(), [live]);
    assert.match(s.stderr(), new RegExp(`removed .*${killed[0].replace(/\./g, '\\.')}, left by a write that was killed`));
    assert.ok(readCheckpoint(file).step >= 0, 'the checkpoint itself is whole');
  } finally {
    await s.kill();
  }
});
