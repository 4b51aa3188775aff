// What watching costs the run (issue 13): the same training headless and with the dashboard open in a real
// Chromium (1400x1000, every chart visible), interleaved, at batch 4 and 32. For each it prints the steady-state
// samples/s (the run's metrics lines timed from outside, from 1 s after the page first drew to the end; the same
// window for headless), the ratio of the medians, and for the watched runs the page's own frame times (median and
// p99 of `render`, read from window.adamFrames), the CPU the browser's processes used (cores, from /proc) and
// the page's JS heap.
//   npm run bench:watched -- [--batch 4,32] [--repeats 3] [--data DIR] [--workers N] [--busy]
//                            [--page visible|hidden] [--steps4 N] [--steps32 N]
//   --busy        another process spins on one core all along (as a browser, a build or VS Code would)
//   --page hidden the dashboard is open but its tab is in the background (document.hidden; emulated, see below)
//   --vscode      in code-server's webview instead (bench/watchedVscode.mjs): the extension packaged and installed,
//                 "Adam: Train with Adam" from the palette; --seconds N measured (default 15), from --settle S seconds
//                 into each run (default 8, with --page hidden 30: the panel is hidden as the dashboard first draws,
//                 and hiding it costs VS Code a burst of work, once; headless and watched alike); --trace prints each
//                 second's steps/s;
//                 --baseline editor runs the headless one beside code-server with a text editor in front (VS Code
//                 open, no dashboard: what the hidden dashboard itself costs), instead of on an otherwise idle machine;
//                 --baseline both runs both headless runs in each repeat and splits the watched run's loss into VS
//                 Code's own (beside an editor / idle) and the dashboard's (watched / beside an editor), with intervals;
//                 --baseline frozen times one watched run in windows of --seconds that alternate between VS Code
//                 running and VS Code's processes stopped (SIGSTOP: the run alone on the machine), --cycles N (6) stopped
//                 windows each between two running ones, a running one --resume-settle S (3) seconds after VS Code
//                 resumes; the machine's drift, which moves separate runs by up to a third, cancels out of each ratio (--seconds
//                 defaults to 8 here: the sidecar drops a client that has not answered its ping of 15 s before); it
//                 prints `ceiling`, the ratio left if the run lost only the cores VS Code and the kernel take meanwhile
//                 --vscode-settings JSON: VS Code settings for code-server (as a user's settings.json), e.g.
//                 '{"remote.autoForwardPortsSource":"output"}' (no scan of /proc for ports every few seconds)
//   --profile     also prints the page's CPU profile (self time by function) over the measured window
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { median, pairedRatio, quantile } from './stats.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const shared = join(here, '..', 'shared', 'data', 'cifar10-jpg');
const data = arg('data', existsSync(shared) ? shared : 'sample');
const batches = arg('batch', '4,32').split(',').map(Number);
const repeats = Number(arg('repeats', 3));
const workers = arg('workers');
const busy = process.argv.includes('--busy');
const pageMode = arg('page', 'visible');
const profile = process.argv.includes('--profile');
const steps = { 4: Number(arg('steps4', 60000)), 32: Number(arg('steps32', 10000)) };
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!['idle', 'editor', 'both', 'frozen'].includes(arg('baseline', 'idle'))) throw new Error(`--baseline must be idle, editor, both or frozen, got ${arg('baseline')}`);
if (!['visible', 'hidden'].includes(pageMode)) throw new Error(`--page must be visible or hidden, got ${pageMode}`);
if (!existsSync(join(here, 'dist', 'cli.js'))) throw new Error('build first: node scripts/build.mjs');

const CLOCK_TICKS = 100; // /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** CPU seconds used so far by the browser (the Chromium processes this benchmark started, and theirs), in all and by
 *  Chromium process type (--type=renderer, gpu-process, utility; the browser has none). */
function browserCpu() {
  const stats = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(p), { comm, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS });
    } catch { /* gone */ }
  }
  const pids = new Set([...stats].filter(([, s]) => s.ppid === process.pid && /chrom/i.test(s.comm)).map(([pid]) => pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, s] of stats) if (!pids.has(pid) && pids.has(s.ppid)) { pids.add(pid); grew = true; }
  }
  let total = 0;
  const byType = {};
  for (const pid of pids) {
    const { cpu } = stats.get(pid);
    total += cpu;
    let type = 'browser';
    try { type = /--type=([\w-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser'; } catch { /* gone */ }
    byType[type] = (byType[type] ?? 0) + cpu;
  }
  return { total, byType };
}

async function trial(browser, batch, watched) {
  const runsDir = mkdtempSync(join(tmpdir(), 'adam-watched-'));
  const args = [join(here, 'bin', 'adam-trainer.js'), 'train', '--data', data, '--batch-size', String(batch), '--max-steps', String(steps[batch] ?? 20000), '--seed', '1', '--epochs', '1000', '--json', '--log-every', String(batch === 4 ? 500 : 100), '--runs-dir', runsDir, '--dashboard'];
  if (workers) args.push('--workers', workers);
  const t0 = performance.now();
  // --profile: the sidecar's main thread is profiled too (node --cpu-prof; the workers only run the kernels).
  const profDir = profile && watched ? mkdtempSync(join(tmpdir(), 'adam-watched-prof-')) : null;
  const child = spawn(process.execPath, [...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), ...args], { env: { ...process.env, BROWSER: 'none' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    try { const m = JSON.parse(l); if (m.type === 'metrics') lines.push({ at: performance.now(), step: m.step, threads: m.threads }); } catch { /* not json */ }
  });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`train exited (${code}) before serving its dashboard:\n${stderr.slice(-800)}`)));
  });
  let page;
  let readyAt = t0;
  let cpu0 = { total: 0, byType: {} };
  let cpuAt0 = 0;
  if (watched) {
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    if (pageMode === 'hidden') {
      // The tab in the background, as the page sees it: document.hidden and visibilityState say so from the start.
      // (Headless Chromium never hides a tab, neither behind another tab nor minimized, even under Xvfb.) A real
      // background tab also has its timers throttled, so this measures at most what a hidden dashboard costs.
      await page.addInitScript(() => {
        Object.defineProperty(Document.prototype, 'hidden', { get: () => true, configurable: true });
        Object.defineProperty(Document.prototype, 'visibilityState', { get: () => 'hidden', configurable: true });
      });
    }
    await page.goto(url);
    if (pageMode === 'hidden') {
      await page.waitForFunction(() => performance.getEntriesByName('adam:history-loaded').length > 0, null, { timeout: 60_000 });
    } else {
      await page.waitForFunction(() => Number(document.getElementById('chart-loss')?.dataset.points ?? 0) > 0, null, { timeout: 60_000 });
    }
    readyAt = performance.now();
    page.cdp = await page.context().newCDPSession(page);
    await page.cdp.send('Performance.enable');
    if (profile) {
      await page.cdp.send('Profiler.enable');
      await page.cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await page.cdp.send('Profiler.start');
    }
    cpu0 = browserCpu();
    cpuAt0 = performance.now();
  }
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`train exited ${code}:\n${stderr.slice(-800)}`);
  // The window: from the first metrics line 1 s after the page drew (or 3 s after the start) to the last.
  const from = Math.max(readyAt + 1000, t0 + 3000);
  const inWindow = lines.filter((l) => l.at >= from);
  if (inWindow.length < 3) throw new Error(`too few metrics lines in the measured window (${inWindow.length}): raise --steps${batch}`);
  const a = inWindow[0];
  const b = inWindow[inWindow.length - 1];
  const result = { samplesPerSec: ((b.step - a.step) * batch) / ((b.at - a.at) / 1000), seconds: (b.at - a.at) / 1000 };
  // How long the thread governor kept fewer threads than workers (metrics lines in the window whose count is below the top).
  const top = Math.max(...inWindow.map((l) => l.threads ?? 0));
  result.fewerThreads = inWindow.filter((l) => (l.threads ?? top) < top).length / inWindow.length;
  // The workers the run started with, as it recorded them: `train` takes fewer than the cores when another program is
  // busy as it starts (--busy), and the governor then has no fewer threads to try, so fewerThreads reads 0.
  const [runId] = readdirSync(runsDir);
  result.workers = JSON.parse(readFileSync(join(runsDir, runId, 'config.json'), 'utf8')).config.workers;
  if (watched) {
    const cpu1 = browserCpu();
    const seconds = (performance.now() - cpuAt0) / 1000;
    result.browserCores = (cpu1.total - cpu0.total) / seconds;
    result.browserCoresByProcess = Object.fromEntries(Object.entries(cpu1.byType).map(([k, v]) => [k, +((v - (cpu0.byType[k] ?? 0)) / seconds).toFixed(3)]));
    const frames = await page.evaluate(() => window.adamFrames?.since() ?? []);
    result.frames = frames.length;
    result.frameMedianMs = median(frames);
    result.frameP99Ms = quantile(frames, 0.99);
    // Each frame's whole cost to the page, to its paint (window.adamFrameCosts): what the draw budget counts.
    result.frameCostMedianMs = median(await page.evaluate(() => window.adamFrameCosts?.since() ?? []));
    if (profile) result.profile = topOfProfile((await page.cdp.send('Profiler.stop')).profile);
    const { metrics } = await page.cdp.send('Performance.getMetrics');
    result.jsHeapMB = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 2 ** 20;
    await page.close();
  }
  if (profDir) {
    // CPU.<date>.<pid>.<thread id>.<n>.cpuprofile: thread 0 is the main thread.
    const main = readdirSync(profDir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (main) result.sidecarProfile = topOfProfile(JSON.parse(readFileSync(join(profDir, main), 'utf8')));
    rmSync(profDir, { recursive: true, force: true });
  }
  rmSync(runsDir, { recursive: true, force: true });
  return result;
}

/** Self time by function (name, file:line) as a share of the profile's samples: the top 20. */
function topOfProfile(p) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = new Map();
  p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const [id, us] of dt) {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  }
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, us]) => `${(100 * us / total).toFixed(1)}% ${k}`);
}

if (process.argv.includes('--vscode')) {
  const { benchVscode, vscodeSettingsArg } = await import('./watchedVscode.mjs');
  const busyLoopVscode = busy ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : null;
  try {
    await benchVscode({ data, batches, repeats, seconds: Number(arg('seconds', arg('baseline') === 'frozen' ? 8 : 15)), settle: Number(arg('settle', pageMode === 'hidden' ? 30 : 8)), pageMode, workers, profile, topOfProfile, trace: process.argv.includes('--trace'), baseline: arg('baseline', 'idle'), cycles: Number(arg('cycles', 6)), resumeSettle: Number(arg('resume-settle', 3)), vscodeSettings: vscodeSettingsArg(arg('vscode-settings')) });
  } finally {
    busyLoopVscode?.kill('SIGKILL');
  }
  process.exit(0);
}

const busyLoop = busy ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : null;
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
try {
  for (const batch of batches) {
    const cells = { headless: [], watched: [] };
    for (let r = 0; r < repeats; r++) {
      cells.headless.push(await trial(browser, batch, false));
      cells.watched.push(await trial(browser, batch, true));
    }
    const h = median(cells.headless.map((x) => x.samplesPerSec));
    const w = median(cells.watched.map((x) => x.samplesPerSec));
    console.log(JSON.stringify({
      batch, page: pageMode, busy, workers: workers ?? 'default', data: data === shared ? 'cifar10-jpg' : data,
      headlessSamplesPerSec: Math.round(h), watchedSamplesPerSec: Math.round(w), ratio: +(w / h).toFixed(3),
      pairedRatio: pairedRatio(cells.headless.map((x) => x.samplesPerSec), cells.watched.map((x) => x.samplesPerSec)),
      frameMedianMs: +median(cells.watched.map((x) => x.frameMedianMs)).toFixed(2),
      frameP99Ms: +median(cells.watched.map((x) => x.frameP99Ms)).toFixed(2),
      framesPerSec: +median(cells.watched.map((x) => x.frames / x.seconds)).toFixed(1),
      frameCostMedianMs: +median(cells.watched.map((x) => x.frameCostMedianMs)).toFixed(2),
      browserCores: +median(cells.watched.map((x) => x.browserCores)).toFixed(3),
      browserCoresByProcess: cells.watched.map((x) => x.browserCoresByProcess),
      jsHeapMB: +median(cells.watched.map((x) => x.jsHeapMB)).toFixed(1),
      fewerThreads: { headless: cells.headless.map((x) => +x.fewerThreads.toFixed(2)), watched: cells.watched.map((x) => +x.fewerThreads.toFixed(2)) },
      startedWorkers: { headless: cells.headless.map((x) => x.workers), watched: cells.watched.map((x) => x.workers) },
      ...(profile ? { profile: cells.watched[0].profile, sidecarProfile: cells.watched[0].sidecarProfile } : {}),
      runs: { headless: cells.headless.map((x) => Math.round(x.samplesPerSec)), watched: cells.watched.map((x) => Math.round(x.samplesPerSec)) },
    }));
  }
} finally {
  await browser.close();
  busyLoop?.kill('SIGKILL');
}
