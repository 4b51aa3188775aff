// `npm test`'s first step, scripts/setup.mjs, as npm runs it: a real process on this machine's real Chromium
// and python. Absence is simulated the way a user would meet it: CHROMIUM_PATH or PYTHON naming nothing, or a
// python module that fails to import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../store/helpers';

const ROOT = join(__dirname, '..', '..');
const SETUP = join(ROOT, 'scripts', 'setup.mjs');
const INSTALLS_CHROMIUM = /(apt-get|dnf) install -y chromium|brew install --cask chromium|CHROMIUM_PATH=C:/;

interface Result { code: number | null; stdout: string; stderr: string }

function setup(args: string[], env: NodeJS.ProcessEnv, prefix: string[] = [], script = SETUP, cwd = ROOT): Promise<Result> {
  const argv = [...prefix, process.execPath, script, ...args];
  const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ADAM_TRAINER_SETUP: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('with everything present it says so in one line and exits 0', async () => {
  const r = await setup(['--check'], {});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Chromium at .*numpy, torch and Pillow.*: present\.\n$/);
});

test('--check with Chromium and python absent exits 2 naming each piece and its install command', async () => {
  const r = await setup(['--check'], { CHROMIUM_PATH: '/nonexistent', PYTHON: '/nonexistent' });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^npm test stopped before running any test/);
  assert.match(r.stderr, /Chromium .*CHROMIUM_PATH=\/nonexistent does not run/);
  assert.match(r.stderr, /python3 with numpy, torch and Pillow .*PYTHON=\/nonexistent does not run/);
  assert.match(r.stderr, INSTALLS_CHROMIUM);
  assert.match(r.stderr, /install .*(numpy.*torch|torch.*numpy)/);
  assert.match(r.stderr, /Checked only .*nothing was installed/);
});

test('ADAM_TRAINER_SETUP=check is the same as --check', async () => {
  const r = await setup([], { ADAM_TRAINER_SETUP: 'check', CHROMIUM_PATH: '/nonexistent' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Checked only/);
});

test('a CHROMIUM_PATH that does not run is reported, never installed over', async () => {
  const r = await setup([], { CHROMIUM_PATH: '/nonexistent' });
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stderr, /Installing/);
  assert.match(r.stderr, /point CHROMIUM_PATH at a working one, or unset it and install: /);
  assert.doesNotMatch(r.stderr, /python3|numpy/, 'only the missing piece is named');
});

test('without root or passwordless sudo it prints the install commands instead of installing', async (t) => {
  const asRoot = process.getuid?.() === 0;
  if (!asRoot && spawnSync('sudo', ['-n', 'true']).status === 0) return t.skip('this user has passwordless sudo, so setup would install');
  // Pillow made unimportable for the default python, which apt-get could otherwise fix.
  const shadow = tempDir('adam-setup-');
  mkdirSync(join(shadow, 'PIL'));
  writeFileSync(join(shadow, 'PIL', '__init__.py'), 'raise ImportError("hidden by the test")\n');
  chmodSync(shadow, 0o755);
  chmodSync(join(shadow, 'PIL'), 0o755);
  // The checkout may sit in a folder only root can enter (mktemp -d makes them 0700): nobody runs a copy of the
  // script (it imports nothing of ours) from the readable folder.
  const script = join(shadow, 'setup.mjs');
  copyFileSync(SETUP, script);
  chmodSync(script, 0o644);
  const nobody = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const r = await setup([], { PYTHONPATH: shadow, PYTHON: undefined }, nobody, script, shadow);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /Installing/);
  assert.match(r.stderr, /- Pillow for \/usr\/bin\/python3\n/);
  assert.match(r.stderr, /install: (sudo (apt-get|dnf) install -y python3-(pil|pillow)|.*pip install pillow)\n/);
  assert.match(r.stderr, /Not installed automatically/);
  assert.doesNotMatch(r.stderr, /Chromium|numpy|torch/, 'only the missing piece is named');
});
