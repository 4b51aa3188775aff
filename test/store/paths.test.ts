import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../sidecar/errors';
import { adamTrainerHome, newRunId, resolveUserPath, runDir } from '../../sidecar/store/paths';
import { tempDir } from './helpers';

const badPath = (e: unknown) => e instanceof UserError && e.code === 'bad_path';

test('a plain run id resolves to a folder inside the runs folder', () => {
  const runs = tempDir();
  assert.equal(runDir(runs, '20261125-142301-ab12cd'), join(realpathSync(runs), '20261125-142301-ab12cd'));
});

test('run ids that are paths, dots, empty or NUL-bearing are refused with bad_path', () => {
  const runs = tempDir();
  for (const id of ['../x', '..', '.', '', '/etc', resolve('/tmp/x'), 'a/b', 'a\\b', 'x\0y', '..\\x', 'a'.repeat(129)]) {
    assert.throws(() => runDir(runs, id), badPath, `run id ${JSON.stringify(id)} must be refused`);
  }
});

test('a run id that is a symlink leading out of the runs folder is refused', () => {
  const runs = tempDir();
  const outside = tempDir();
  symlinkSync(outside, join(runs, 'escape'));
  assert.throws(() => runDir(runs, 'escape'), badPath);
});

test('a symlinked runs folder is followed: its runs resolve inside its real path', () => {
  const real = tempDir();
  const link = join(tempDir(), 'runs-link');
  symlinkSync(real, link);
  mkdirSync(join(real, 'r1'));
  assert.equal(runDir(link, 'r1'), join(realpathSync(real), 'r1'));
});

test('resolveUserPath refuses NUL bytes and resolves symlinks of existing paths', () => {
  assert.throws(() => resolveUserPath('a\0b'), badPath);
  assert.throws(() => resolveUserPath(''), badPath);
  const real = tempDir();
  const link = join(tempDir(), 'l');
  symlinkSync(real, link);
  assert.equal(resolveUserPath(link), realpathSync(real));
  assert.equal(resolveUserPath(join(link, 'not-yet.ckpt')), join(realpathSync(real), 'not-yet.ckpt'));
});

test('ADAM_TRAINER_HOME moves both folders; without it they are the documented defaults', () => {
  const home = tempDir();
  assert.deepEqual(adamTrainerHome({ ADAM_TRAINER_HOME: home }), { runsDir: join(realpathSync(home), 'runs'), cacheDir: join(realpathSync(home), 'cache') });
  assert.deepEqual(adamTrainerHome({}), { runsDir: join(homedir(), '.adam-trainer', 'runs'), cacheDir: join(homedir(), '.cache', 'adam-trainer') });
});

test('new run ids sort by creation time and are valid run ids', () => {
  const a = newRunId(new Date('2026-11-25T14:23:01Z'));
  const b = newRunId(new Date('2026-11-25T14:23:02Z'));
  assert.match(a, /^20261125-142301-[0-9a-f]{6}$/);
  assert.ok(a < b);
  assert.notEqual(newRunId(), newRunId());
  assert.equal(runDir(tempDir(), a).endsWith(a), true);
});
