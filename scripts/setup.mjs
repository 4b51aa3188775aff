// `npm test`'s first step (and so .ci/run's): the system pieces the tests use besides Node. Chromium drives the
// browser tests, python3 with numpy, torch and Pillow checks our exports and kernels against the real
// libraries, OpenBLAS is the BLAS Debian's torch runs on. What is missing is installed with apt-get when it can
// be (Debian/Ubuntu, root or passwordless sudo); otherwise, or with --check (ADAM_TRAINER_SETUP=check), one
// message names each missing piece and its install command, and the exit code is 2 before any test runs.
// CHROMIUM_PATH and PYTHON choose other programs (test/support/system.ts reads the same variables); a chosen
// path that does not work is reported, never installed over. `npm start` does not run this.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

// Mirrors test/support/system.ts.
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const chromiumChosen = process.env.CHROMIUM_PATH !== undefined && CHROMIUM_PATH !== '/usr/bin/chromium';
const pythonChosen = process.env.PYTHON !== undefined && PYTHON !== '/usr/bin/python3';
const checkOnly = process.argv.includes('--check') || process.env.ADAM_TRAINER_SETUP === 'check';
const MODULES = [['numpy', 'numpy'], ['torch', 'torch'], ['PIL', 'Pillow']]; // import name, what people call it
const multiarch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch] ?? process.arch;
const OPENBLAS = [`/usr/lib/${multiarch}-linux-gnu/openblas-pthread/libopenblas.so.0`, '/usr/lib64/libopenblasp.so.0'];

function osKind() {
  if (process.platform === 'win32') return 'windows';
  if (process.platform === 'darwin') return 'macos';
  if (process.platform !== 'linux') return 'other';
  const release = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const ids = (release.match(/^ID(?:_LIKE)?=.*$/gm) ?? []).join(' ');
  if (/debian|ubuntu/.test(ids)) return 'debian';
  if (/fedora|rhel|centos/.test(ids)) return 'fedora';
  return 'other';
}
const os = osKind();
const asRoot = process.getuid?.() === 0;

/** The pieces that are missing, each as { key, what, problem? }. */
function findMissing() {
  const missing = [];
  // Chrome on Windows opens a window for --version instead of printing it, so there it must only exist.
  const chromium = process.platform === 'win32'
    ? { status: existsSync(CHROMIUM_PATH) ? 0 : 1, stdout: 'chrome' }
    : spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (chromium.status !== 0 || !/chrom/i.test(chromium.stdout ?? '')) {
    missing.push({ key: 'chromium', what: 'Chromium (the browser tests)', problem: chromiumChosen && `CHROMIUM_PATH=${CHROMIUM_PATH} does not run` });
  }
  const probe = `import importlib\nfor m in ${JSON.stringify(MODULES.map(([m]) => m))}:\n  try: importlib.import_module(m)\n  except Exception: print(m)`;
  const python = spawnSync(PYTHON, ['-c', probe], { encoding: 'utf8', timeout: 120_000 });
  if (python.status !== 0) {
    missing.push({ key: 'python3', what: 'python3 with numpy, torch and Pillow (the reference tests)', problem: pythonChosen && `PYTHON=${PYTHON} does not run` });
  } else {
    const absent = python.stdout.split('\n').filter(Boolean);
    for (const [module, name] of MODULES) if (absent.includes(module)) missing.push({ key: module, what: `${name} for ${PYTHON}` });
  }
  if (process.platform === 'linux' && !OPENBLAS.some((f) => existsSync(f))) missing.push({ key: 'openblas', what: 'OpenBLAS (the BLAS torch runs on)' });
  return missing;
}

// The packages that provide each piece.
const APT = {
  chromium: ['chromium'], python3: ['python3', 'python3-numpy', 'python3-torch', 'python3-pil'],
  numpy: ['python3-numpy'], torch: ['python3-torch'], PIL: ['python3-pil'], openblas: ['libopenblas0-pthread'],
};
const DNF = {
  chromium: ['chromium'], python3: ['python3', 'python3-numpy', 'python3-torch', 'python3-pillow'],
  numpy: ['python3-numpy'], torch: ['python3-torch'], PIL: ['python3-pillow'], openblas: ['openblas'],
};
const PIP = { numpy: 'numpy', torch: 'torch', PIL: 'pillow' };
const sudo = asRoot ? '' : 'sudo ';
/** Whether the system's package manager is the fix: not for a path the user chose, nor for their own python's modules. */
const byPackage = (piece) => !piece.problem && !(PIP[piece.key] && pythonChosen);

/** The command that installs one piece on this OS. */
function installCommand(piece) {
  if (PIP[piece.key] && pythonChosen) return `"${PYTHON}" -m pip install ${PIP[piece.key]}`;
  if (os === 'debian') return `${sudo}apt-get install -y ${APT[piece.key].join(' ')}`;
  if (os === 'fedora') {
    const then = { chromium: ', then CHROMIUM_PATH=/usr/bin/chromium-browser' }[piece.key] ?? '';
    return `${sudo}dnf install -y ${DNF[piece.key].join(' ')}${then}`;
  }
  if (os === 'macos') {
    if (piece.key === 'chromium') {
      return 'brew install --cask chromium, then CHROMIUM_PATH=/Applications/Chromium.app/Contents/MacOS/Chromium'
        + ' (or "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")';
    }
    if (piece.key === 'python3') {
      return 'brew install python && python3 -m venv ~/.venvs/adam && ~/.venvs/adam/bin/pip install numpy torch pillow,'
        + ' then PYTHON=~/.venvs/adam/bin/python';
    }
    return `"${PYTHON}" -m pip install ${PIP[piece.key]}`;
  }
  if (os === 'windows') {
    if (piece.key === 'chromium') return 'set CHROMIUM_PATH=C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe (or another chrome.exe)';
    if (piece.key === 'python3') {
      return 'winget install Python.Python.3.12 && py -m pip install numpy torch pillow,'
        + ' then set PYTHON to what `py -c "import sys; print(sys.executable)"` prints';
    }
    return `py -m pip install ${PIP[piece.key]}`;
  }
  const variable = { chromium: ' and set CHROMIUM_PATH', python3: ' and set PYTHON' }[piece.key] ?? '';
  return `install ${piece.what} with your package manager${variable}`;
}

function report(missing, why) {
  const lines = ['npm test stopped before running any test: it needs these, and they are missing here.'];
  for (const piece of missing) {
    lines.push(`  - ${piece.what}${piece.problem ? `: ${piece.problem}` : ''}`);
    const fix = installCommand(piece);
    const variable = piece.key === 'chromium' ? 'CHROMIUM_PATH' : 'PYTHON';
    lines.push(piece.problem ? `      point ${variable} at a working one, or unset it and install: ${fix}` : `      install: ${fix}`);
  }
  const table = { debian: APT, fedora: DNF }[os] ?? {};
  const packages = [...new Set(missing.filter(byPackage).flatMap((p) => table[p.key] ?? []))];
  const all = os === 'debian' ? `${sudo}apt-get update && ${sudo}apt-get install -y` : `${sudo}dnf install -y`;
  if (packages.length > 1) lines.push(`  all at once: ${all} ${packages.join(' ')}`);
  if (why) lines.push(why);
  console.error(lines.join('\n'));
  process.exit(2);
}

/** Runs apt-get as root, or through passwordless sudo; false when neither is possible. */
function aptGet(args) {
  const argv = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
  const [command, ...rest] = asRoot ? argv : ['sudo', '-n', ...argv];
  return spawnSync(command, rest, { stdio: 'inherit' }).status === 0;
}

let missing = findMissing();
if (missing.length) {
  const installable = os === 'debian' ? missing.filter(byPackage) : [];
  let why = null;
  if (checkOnly) why = 'Checked only (--check or ADAM_TRAINER_SETUP=check): nothing was installed.';
  else if (os !== 'debian') why = `Not installed automatically: only Debian and Ubuntu (apt-get) are, and this is ${os === 'other' ? process.platform : os}.`;
  else if (installable.length && !asRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    why = 'Not installed automatically: not root, and sudo is absent or needs a password. Run the commands above, or npm test as root.';
  } else if (installable.length) {
    const packages = [...new Set(installable.flatMap((p) => APT[p.key]))];
    console.error(`Installing what the tests need: ${packages.join(' ')}`);
    const installed = aptGet(['update', '-q']) && aptGet(['install', '-y', '-q', ...packages]);
    missing = findMissing();
    if (!installed) why = 'apt-get failed (its output is above).';
    else if (missing.some(byPackage)) why = `apt-get installed ${packages.join(' ')}, and the pieces above still do not work.`;
  }
  if (missing.length) report(missing, why);
}
console.log(`System pieces for the tests: Chromium at ${CHROMIUM_PATH}, ${PYTHON} with numpy, torch and Pillow${process.platform === 'linux' ? ', OpenBLAS' : ''}: present.`);
