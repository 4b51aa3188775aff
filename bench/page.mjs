// The dashboard page on long runs (issue 13), in a real Chromium against a real `adam-trainer serve`:
//   open     a finished run of 1,000,000 steps (written by bench/longRun.ts with the product's run store): the
//            time from navigation to its charts drawn to the last step, median of --repeats fresh pages;
//   overlay  two live runs of 100,000 steps each (the shipped sample, batch 4, one worker each) overlaid: the
//            page's frame times (median, p99, from window.adamFrames) and its JS heap after a forced GC at the
//            first sample past step 10,000 and at the end (the growth must stay under 20 MB).
//   node bench/page.mjs [--scenario open,overlay] [--repeats 3] [--steps 100000] [--root <another checkout, built>]
// With --root, `open` also serves the same run from the other checkout's sidecar and dashboard, one page load of each
// in turn (which goes first alternates), and prints the paired ratio: the median of this build's time over the other's
// in each pair. The machine's noise moves the two together; medians of separate runs moved by a fifth between runs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const scenarios = arg('scenario', 'open,overlay').split(',');
const repeats = Number(arg('repeats', 3));
const overlaySteps = Number(arg('steps', 100_000));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const otherRoot = arg('root', undefined);

async function serve(runsDir, root = here) {
  const proc = spawn(process.execPath, [join(root, 'bin', 'adam-trainer.js'), 'serve', '--runs-dir', runsDir, '--cache-dir', join(runsDir, '..', 'cache')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const first = await new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  const { port, token, url } = JSON.parse(first);
  return { proc, ws: url, page: `http://127.0.0.1:${port}/?token=${token}` };
}

async function heapMB(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize / 2 ** 20;
}

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
try {
  if (scenarios.includes('open')) {
    const tmp = mkdtempSync(join(tmpdir(), 'adam-page-'));
    const runsDir = join(tmp, 'runs');
    const runId = '20261201-000000-a1b2c3';
    const made = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'bench', 'longRun.ts'), runsDir, runId, '--steps', '1000000'], { cwd: here, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(made.stderr);
    const s = await serve(runsDir);
    // The other build reads its own copy of the run (its summary cache may be of another format).
    let other;
    if (otherRoot) {
      cpSync(runsDir, join(tmp, 'other-runs'), { recursive: true });
      other = await serve(join(tmp, 'other-runs'), otherRoot);
    }
    const open = async (server) => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const t0 = performance.now();
      await page.goto(`${server.page}&run=${runId}`);
      await page.waitForFunction(() => document.getElementById('chart-loss')?.dataset.lastX === '1000000', null, { polling: 16, timeout: 60_000 });
      const ms = performance.now() - t0;
      // Where the time went, from the page's own clock (ms since its navigation started).
      const phase = await page.evaluate(() => {
        const at = (name) => Math.round(performance.getEntriesByName(name)[0]?.startTime ?? NaN);
        const nav = performance.getEntriesByType('navigation')[0];
        return { scriptStart: at('adam:script-start'), modulesLoaded: at('adam:modules-loaded'), constructed: at('adam:constructed'), domContentLoaded: Math.round(nav.domContentLoadedEventEnd), socketOpen: at('adam:socket-open'), historyReceived: at('adam:history-received'), historyLoaded: at('adam:history-loaded'), firstDraw: at('adam:first-draw') };
      });
      await page.close();
      return { ms, phase };
    };
    const times = [];
    const phases = [];
    const otherTimes = [];
    const ratios = [];
    for (let r = 0; r < repeats; r++) {
      const otherFirst = other !== undefined && r % 2 === 1;
      const before = otherFirst ? await open(other) : undefined;
      const mine = await open(s);
      const after = other !== undefined && !otherFirst ? await open(other) : undefined;
      times.push(mine.ms);
      phases.push(mine.phase);
      const theirs = before ?? after;
      if (theirs) {
        otherTimes.push(theirs.ms);
        ratios.push(mine.ms / theirs.ms);
      }
    }
    s.proc.kill('SIGTERM');
    other?.proc.kill('SIGTERM');
    const paired = other ? { root: otherRoot, rootMedianMs: Math.round(median(otherTimes)), rootRuns: otherTimes.map(Math.round), pairedOverRoot: +median(ratios).toFixed(3) } : {};
    console.log(JSON.stringify({ scenario: 'open a finished run of 1,000,000 steps', metricsLines: 10_000, medianMs: Math.round(median(times)), runs: times.map(Math.round), ...paired, phases }));
    rmSync(tmp, { recursive: true, force: true });
  }
  if (scenarios.includes('overlay')) {
    const tmp = mkdtempSync(join(tmpdir(), 'adam-page-'));
    const s = await serve(join(tmp, 'runs'));
    const client = new WebSocket(s.ws);
    await new Promise((r) => client.once('open', r));
    const started = [];
    let refused;
    client.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.type === 'started') started.push(m.runId);
      if (m.type === 'error') refused = new Error(`serve refused a start: ${m.message}`);
    });
    for (const seed of [1, 2]) client.send(JSON.stringify({ type: 'start', config: { data: 'sample', batchSize: 4, workers: 1, epochs: 10_000, maxSteps: overlaySteps, seed }, requestId: `s${seed}` }));
    while (started.length < 2) {
      if (refused) throw refused;
      await new Promise((r) => setTimeout(r, 50));
    }
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${s.page}&run=${started[0]}`);
    // Overlay the run that is not the open one (the page may open the newest).
    await page.locator(`input[aria-label^="overlay "]:not([disabled])`).first().check();
    const lastX = () => page.evaluate(() => Number(document.getElementById('chart-loss')?.dataset.lastX ?? 0));
    let heapAt10k;
    let since;
    for (;;) {
      const x = await lastX();
      if (heapAt10k === undefined && x >= 10_000) {
        heapAt10k = await heapMB(page);
        since = await page.evaluate(() => performance.now());
      }
      if (x >= overlaySteps) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const heapEnd = await heapMB(page);
    const frames = await page.evaluate((t) => window.adamFrames.since(t), since);
    const points = await page.evaluate(() => Number(document.getElementById('chart-loss')?.dataset.points));
    console.log(JSON.stringify({
      scenario: `two live runs of ${overlaySteps} steps overlaid`, frames: frames.length, frameMedianMs: +median(frames).toFixed(2), frameP99Ms: +quantile(frames, 0.99).toFixed(2),
      heapAt10kMB: +heapAt10k.toFixed(1), heapEndMB: +heapEnd.toFixed(1), growthMB: +(heapEnd - heapAt10k).toFixed(1), lossPointsAtEnd: points,
    }));
    client.close();
    await page.close();
    s.proc.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
} finally {
  await browser.close();
}
