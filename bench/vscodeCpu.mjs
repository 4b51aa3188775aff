// What VS Code itself costs a run (issue 13): the CPU of each kind of code-server process (cores, from /proc) over
// --seconds, in four states: the workbench idle; idle with a text editor in front (its cursor blinks); a run
// training with the dashboard open; the same with another editor in front (the dashboard's panel hidden). The
// extension is packaged and installed as in bench/watchedVscode.mjs.
//   node bench/vscodeCpu.mjs [--data DIR] [--batch 4] [--seconds 10] [--repeats 1] [--states training]
//                            [--root DIR (another checkout's build: its extension is measured too, interleaved)]
// --states training: only the two states with a run (the dashboard visible, then hidden).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CodeServer, installExtension, isolatedEnv } from '../test/e2e/codeServer.mjs';
import { ensureCodeServer, findChromium } from '../test/e2e/setup.mjs';
import { CHROMIUM_ARGS, sleep, waitFor, Workbench } from '../test/e2e/workbench.mjs';
import { coresByLabel, processCpu, settings } from './watchedVscode.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const shared = join(root, '..', 'shared', 'data', 'cifar10-jpg');
const data = arg('data', existsSync(shared) ? shared : 'sample');
const batch = Number(arg('batch', 4));
const seconds = Number(arg('seconds', 10));
const repeats = Number(arg('repeats', 1));
const idleStates = arg('states', 'all') !== 'training';
const roots = [root, ...(arg('root') ? [resolve(arg('root'))] : [])];
for (const r of roots) if (!existsSync(join(r, 'dist', 'extension.js'))) throw new Error(`build first: node scripts/build.mjs (in ${r})`);
let build = 'this';

async function measure(state) {
  const before = processCpu();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cores = coresByLabel(before, processCpu(), (performance.now() - t0) / 1000);
  const vscode = Object.entries(cores).filter(([k]) => k !== 'sidecar' && (/chromium|code-server/.test(k))).reduce((a, [, c]) => a + c, 0);
  console.log(JSON.stringify({ build, state, vscodeCores: +vscode.toFixed(2), coresByProcess: cores }));
}

const tmp = mkdtempSync(join(tmpdir(), 'adam-vscode-cpu-'));
const browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
try {
  const bin = ensureCodeServer(root, () => undefined);
  const builds = roots.map((r, i) => {
    const vsix = join(tmp, `train-with-adam-${i}.vsix`);
    execFileSync('npm', ['run', 'package', '--', '-o', vsix], { cwd: r, stdio: ['ignore', 'ignore', 'inherit'] });
    const extensionsDir = join(tmp, `extensions-${i}`);
    installExtension(bin, vsix, { extensionsDir, userDataDir: join(tmp, `install-user-data-${i}`), env: isolatedEnv(join(tmp, `install-${i}`)) });
    return { name: r === root ? 'this' : r, extensionsDir };
  });
  let trial = 0;
  for (let r = 0; r < repeats; r++) for (const { name, extensionsDir } of builds) {
    build = name;
    const dir = join(tmp, `trial-${trial++}`);
    mkdirSync(dir);
    const cs = await CodeServer.start({ bin, tmp: dir, extensionsDir, workspace: join(dir, 'workspace'), settings: settings(data, batch) });
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    try {
      const wb = new Workbench(await context.newPage());
      await wb.open(cs.workbenchUrl);
      await sleep(8000); // the workbench and the extension host settle
      if (idleStates) {
        await measure('idle workbench');
        await wb.runCommand('File: New Untitled Text File');
        await sleep(2000);
        await measure('idle, a text editor in front');
      }
      await wb.runCommand('Adam: Train with Adam');
      await waitFor('the dashboard to show the run training', async () => (await wb.dashboardText('#run-state')) === 'running', { timeoutMs: 120_000 });
      await sleep(2000);
      await measure('training, dashboard visible');
      await wb.runCommand('File: New Untitled Text File');
      await sleep(2000);
      await measure('training, dashboard hidden behind a text editor');
    } finally {
      await context.close().catch(() => undefined);
      await cs.killGroup();
    }
  }
} finally {
  await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}
