// What VS Code itself costs a run (issue 13): the CPU of each kind of code-server process (cores, from /proc) over
// --seconds, in four states: the workbench idle; idle with a text editor in front (its cursor blinks); a run
// training with the dashboard open; the same with another editor in front (the dashboard's panel hidden). The
// extension is packaged and installed as in bench/watchedVscode.mjs. Each state also lists the browser's busiest
// threads by name (browserThreads), so that what a hidden dashboard's VS Code still draws can be told apart.
//   node bench/vscodeCpu.mjs [--data DIR] [--batch 4] [--seconds 10] [--repeats 1] [--states training] [--hide-seconds 30]
//                            [--timeline]
//                            [--root DIR (another checkout's build: its extension is measured too, interleaved)]
//                            [--vscode-settings JSON (VS Code settings for code-server, e.g. '{"remote.autoForwardPortsSource":"output"}')]
// --states training: only the two states with a run (the dashboard visible, then hidden). Between those two it prints
// VS Code's cores each second for --hide-seconds (default 30) after the panel is hidden: hiding it costs a burst, once.
// --timeline also traces the browser over each state and prints the busiest events of the renderer's main thread and
// its thread pool (style, layout, paint, garbage collection). Tracing costs the browser's own processes about 0.07
// cores (its browser and utility processes), so the cores of a --timeline run are not the ones to quote.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CodeServer, installExtension, isolatedEnv } from '../test/e2e/codeServer.mjs';
import { ensureCodeServer, findChromium } from '../test/e2e/setup.mjs';
import { CHROMIUM_ARGS, sleep, waitFor, Workbench } from '../test/e2e/workbench.mjs';
import { browserThreadCpu, coresByLabel, processCpu, settings, vscodeSettingsArg } from './watchedVscode.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const shared = join(root, '..', 'shared', 'data', 'cifar10-jpg');
const data = arg('data', existsSync(shared) ? shared : 'sample');
const batch = Number(arg('batch', 4));
const seconds = Number(arg('seconds', 10));
const repeats = Number(arg('repeats', 1));
const idleStates = arg('states', 'all') !== 'training';
const hideSeconds = Number(arg('hide-seconds', 30));
const timeline = process.argv.includes('--timeline');
const vscodeSettings = vscodeSettingsArg(arg('vscode-settings'));
const roots = [root, ...(arg('root') ? [resolve(arg('root'))] : [])];
for (const r of roots) if (!existsSync(join(r, 'dist', 'extension.js'))) throw new Error(`build first: node scripts/build.mjs (in ${r})`);
let build = 'this';

/** --timeline: a trace of the browser (Chrome's own, the devtools timeline's categories) over a measured state; `stop`
 *  gives its busiest events on the renderer's main thread and its thread pool, as "ms/s ×count/s thread | event"
 *  (nested events each count: a task and the garbage collection inside it both appear). */
async function startTimeline(wb) {
  const cdp = await wb.page.context().newCDPSession(wb.page);
  const events = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
  await cdp.send('Tracing.start', { transferMode: 'ReportEvents', traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'blink', 'v8'] } });
  return {
    async stop(elapsed) {
      const complete = new Promise((done) => cdp.once('Tracing.tracingComplete', done));
      await cdp.send('Tracing.end');
      await complete;
      await cdp.detach();
      const threads = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}/${e.tid}`, e.args.name]));
      const by = new Map();
      for (const e of events) {
        const thread = threads.get(`${e.pid}/${e.tid}`);
        if (e.ph !== 'X' || !e.dur || !/CrRendererMain|ThreadPoolForeground/.test(thread ?? '')) continue;
        const key = `${thread} | ${e.name}`;
        const b = by.get(key) ?? { us: 0, n: 0 };
        by.set(key, { us: b.us + (e.tdur ?? e.dur), n: b.n + 1 });
      }
      return [...by].sort((a, b) => b[1].us - a[1].us).slice(0, 15).map(([k, { us, n }]) => `${(us / 1000 / elapsed).toFixed(1)} ms/s ×${(n / elapsed).toFixed(1)}/s ${k}`);
    },
  };
}

/** VS Code's share of coresByLabel(): code-server's processes and the browser's. */
const vscodeCoresOf = (cores) => Object.entries(cores).filter(([k]) => k !== 'sidecar' && (/chromium|code-server/.test(k))).reduce((a, [, c]) => a + c, 0);

async function measure(state, wb) {
  const before = processCpu();
  const threadsBefore = browserThreadCpu();
  const tracing = timeline ? await startTimeline(wb) : null;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const busiest = tracing ? await tracing.stop(elapsed) : undefined;
  const cores = coresByLabel(before, processCpu(), elapsed);
  const vscode = vscodeCoresOf(cores);
  // Which of the browser's threads: the renderer's main thread (JavaScript, style, layout, paint), its compositor,
  // the raster and GPU threads (with software rendering, drawing is CPU), the thread pools.
  const browserThreads = coresByLabel(threadsBefore, browserThreadCpu(), elapsed);
  console.log(JSON.stringify({ build, state, vscodeCores: +vscode.toFixed(2), coresByProcess: cores, browserThreads, ...(busiest ? { timeline: busiest } : {}) }));
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
    const cs = await CodeServer.start({ bin, tmp: dir, extensionsDir, workspace: join(dir, 'workspace'), settings: settings(data, batch, undefined, vscodeSettings) });
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    try {
      const wb = new Workbench(await context.newPage());
      await wb.open(cs.workbenchUrl);
      await sleep(8000); // the workbench and the extension host settle
      if (idleStates) {
        await measure('idle workbench', wb);
        await wb.runCommand('File: New Untitled Text File');
        await sleep(2000);
        await measure('idle, a text editor in front', wb);
      }
      await wb.runCommand('Adam: Train with Adam');
      await waitFor('the dashboard to show the run training', async () => (await wb.dashboardText('#run-state')) === 'running', { timeoutMs: 120_000 });
      await sleep(2000);
      await measure('training, dashboard visible', wb);
      await wb.runCommand('File: New Untitled Text File');
      // Hiding the panel costs the renderer a burst of work, once (it collects the closed webview's garbage): each
      // second's cores of VS Code's processes until they settle, then the hidden state as it stays.
      const afterHiding = [];
      for (let t = 0; t < hideSeconds; t++) {
        const before = processCpu();
        const t0 = performance.now();
        await sleep(1000);
        afterHiding.push(+vscodeCoresOf(coresByLabel(before, processCpu(), (performance.now() - t0) / 1000)).toFixed(2));
      }
      console.log(JSON.stringify({ build, state: 'the first seconds after hiding the dashboard', vscodeCoresEachSecond: afterHiding }));
      await measure('training, dashboard hidden behind a text editor', wb);
    } finally {
      await context.close().catch(() => undefined);
      await cs.killGroup();
    }
  }
} finally {
  await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}
