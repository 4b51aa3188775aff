// The dashboard page on long runs (issue 13), in a real Chromium against a real `adam-trainer serve`:
//   open     a finished run of 1,000,000 steps (written by bench/longRun.ts with the product's run store): the
//            time from navigation to its charts drawn to the last step, median of --repeats fresh pages;
//   overlay  two live runs of 100,000 steps each (the shipped sample, batch 4, one worker each) overlaid: the
//            page's frame times (median, p99, from window.adamFrames) and its JS heap after a forced GC at the
//            first sample past step 10,000 and at the end (the growth must stay under 20 MB).
//   open-plain  the same as `open` in a Chromium that no inspector is attached to, as a user's is: one Chromium, its
//            tab sent to the page for each load, at a loopback address of the load's own (a new renderer process, as
//            a first open has), through a proxy that adds one small script reporting the page's own clock.
//            Playwright's inspector records every WebSocket's creation stack, which costs the page 130-260 ms of
//            source positions in the bundle that no user pays (BENCHMARKS.md, seventeenth round);
//   node bench/page.mjs [--scenario open,open-plain,overlay] [--repeats 3] [--steps 100000] [--root <another checkout, built>]
// With --root, `open` also serves the same run from the other checkout's sidecar and dashboard, one page load of each
// in turn (which goes first alternates), and prints the paired ratio: the median of this build's time over the other's
// in each pair. The machine's noise moves the two together; medians of separate runs moved by a fifth between runs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { median, quantile } from './stats.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const scenarios = arg('scenario', 'open,overlay').split(',');
const repeats = Number(arg('repeats', 3));
const overlaySteps = Number(arg('steps', 100_000));
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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

/**
 * What the plain Chromium's page runs after the dashboard's bundle: when the loss chart is drawn to the last step, it
 * reports the page's clock (ms since its navigation started) and the dashboard's marks as an image request, which
 * the page's Content-Security-Policy allows (img-src 'self'), then goes back to the waiting page (WAIT_URL).
 */
/** Where the time went, from the page's own clock (ms since its navigation started): an expression run in the page. */
const PHASES = `(() => {
  const at = (name) => Math.round(performance.getEntriesByName(name)[0]?.startTime ?? NaN);
  const nav = performance.getEntriesByType('navigation')[0];
  return { scriptStart: at('adam:script-start'), modulesLoaded: at('adam:modules-loaded'), constructed: at('adam:constructed'), domContentLoaded: Math.round(nav.domContentLoadedEventEnd), socketOpen: at('adam:socket-open'), historyReceived: at('adam:history-received'), historyLoaded: at('adam:history-loaded'), firstDraw: at('adam:first-draw') };
})()`;

const REPORTER = `(() => {
  const observer = new MutationObserver(() => {
    if (document.getElementById('chart-loss')?.dataset.lastX !== '1000000') return;
    const drawn = performance.now();
    observer.disconnect();
    const phase = ${PHASES};
    const image = new Image();
    image.onload = image.onerror = () => location.replace(WAIT_URL);
    image.src = '/__bench/report?m=' + encodeURIComponent(JSON.stringify({ ms: drawn, phase }));
  });
  observer.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['data-last-x'] });
})();`;

/**
 * A Chromium with no inspector attached, as a user's is, started once and kept. Each load is of a loopback address of
 * its own (127.0.0.2, .3, ...): another site, so the page gets a new renderer process with nothing compiled or cached,
 * as a first open does (loads of one address shared a process and its compiled code, and opened in 0.37 s). A proxy on
 * that address passes every request and the WebSocket through to the sidecar (Host, Origin and the page's policy
 * rewritten to what the sidecar checks), adds REPORTER after the bundle, and takes its report. Between loads the tab
 * waits on a page of the proxy's at 127.0.0.1 that asks for the next URL.
 */
class PlainChromium {
  constructor(tmp) {
    this.tmp = tmp;
    this.target = 0;
    this.waiting = [];
    this.proxies = [];
    this.loads = 0;
  }

  /** A proxy listening on `host`; returns its port. */
  async listen(host) {
    const proxy = createServer((req, res) => this.handle(req, res));
    proxy.on('upgrade', (req, socket, head) => {
      const up = connect(this.target, '127.0.0.1', () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(this.toTarget(req.headers)).map(([k, v]) => `${k}: ${v}`)];
        up.write(`${lines.join('\r\n')}\r\n\r\n`);
        up.write(head);
        socket.pipe(up).pipe(socket);
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
    await new Promise((resolve, reject) => proxy.once('error', reject).listen(0, host, resolve));
    this.proxies.push(proxy);
    return proxy.address().port;
  }

  toTarget(headers) {
    return { ...headers, host: `127.0.0.1:${this.target}`, ...(headers.origin ? { origin: `http://127.0.0.1:${this.target}` } : {}) };
  }

  handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/__bench/wait') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/__bench/wait.js"></script>');
    if (url.pathname === '/__bench/wait.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end("fetch('/__bench/next').then((r) => r.text()).then((u) => location.replace(u));");
    if (url.pathname === '/__bench/next') return this.waiting.push((next) => res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(next));
    if (url.pathname === '/__bench.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(`const WAIT_URL = ${JSON.stringify(this.waitUrl)};\n${REPORTER}`);
    if (url.pathname === '/__bench/report') {
      this.reported?.(JSON.parse(url.searchParams.get('m')));
      return res.writeHead(204).end();
    }
    const here = `${req.socket.localAddress}:${req.socket.localPort}`;
    const upstream = request({ host: '127.0.0.1', port: this.target, method: req.method, path: req.url, headers: this.toTarget(req.headers) }, (up) => {
      const headers = { ...up.headers };
      const csp = headers['content-security-policy'];
      if (csp) headers['content-security-policy'] = csp.replaceAll(`127.0.0.1:${this.target}`, here);
      if (!String(headers['content-type']).startsWith('text/html')) {
        res.writeHead(up.statusCode, headers);
        up.pipe(res);
        return;
      }
      const chunks = [];
      up.on('data', (c) => chunks.push(c));
      up.on('end', () => {
        const html = Buffer.from(Buffer.concat(chunks).toString('utf8').replace('</body>', '<script src="/__bench.js"></script></body>'));
        res.writeHead(up.statusCode, { ...headers, 'content-length': html.length }).end(html);
      });
    });
    req.pipe(upstream);
  }

  async start() {
    this.waitUrl = `http://127.0.0.1:${await this.listen('127.0.0.1')}/__bench/wait`;
    this.browser = spawn(chromiumPath, ['--headless=new', '--no-sandbox', `--user-data-dir=${mkdtempSync(join(this.tmp, 'chromium-'))}`, '--window-size=1400,1000',
      '--disable-background-networking', '--disable-component-update', '--no-first-run', '--no-default-browser-check', this.waitUrl], { stdio: 'ignore' });
    this.exited = new Promise((r) => this.browser.once('exit', r));
  }

  /** One load of the run from `server`: the page's own time to its loss chart drawn to the last step, and its marks. */
  async open(server, runId) {
    if (!this.browser) await this.start();
    const host = `127.0.0.${2 + (this.loads++ % 250)}`;
    const port = await this.listen(host);
    while (this.waiting.length === 0) {
      if (this.browser.exitCode !== null) throw new Error(`the plain Chromium exited ${this.browser.exitCode}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.target = Number(new URL(server.page).port);
    const report = new Promise((resolve) => { this.reported = resolve; });
    this.waiting.shift()(`http://${host}:${port}/${new URL(server.page).search}&run=${runId}`);
    let timer;
    try {
      return await Promise.race([report, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the plain Chromium did not draw the run in 60 s')), 60_000); })]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close() {
    // Chromium's renderers and helpers outlive the browser process for a moment and may still write to its profile:
    // the profile's removal retries (rmSync's maxRetries) rather than failing with ENOTEMPTY. The browser stays in
    // this process's group, so Ctrl+C stops it too.
    this.browser?.kill('SIGKILL');
    await this.exited;
    for (const proxy of this.proxies) {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  }
}

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
try {
  const opens = ['open', 'open-plain'].filter((k) => scenarios.includes(k));
  if (opens.length > 0) {
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
    const inspected = async (server) => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const t0 = performance.now();
      await page.goto(`${server.page}&run=${runId}`);
      await page.waitForFunction(() => document.getElementById('chart-loss')?.dataset.lastX === '1000000', null, { polling: 16, timeout: 60_000 });
      const ms = performance.now() - t0;
      const phase = await page.evaluate(PHASES);
      await page.close();
      return { ms, phase };
    };
    const plainChromium = new PlainChromium(tmp);
    const plain = (server) => plainChromium.open(server, runId);
    for (const kind of opens) {
      const open = kind === 'open' ? inspected : plain;
      // The plain Chromium's first load also starts the browser's own services (1,272 ms against 883 and 935 after it,
      // in a trial): a user's browser is already running. One load of each build first, not counted.
      if (kind === 'open-plain') for (const server of [s, other].filter(Boolean)) await open(server);
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
      const paired = other ? { root: otherRoot, rootMedianMs: Math.round(median(otherTimes)), rootRuns: otherTimes.map(Math.round), pairedOverRoot: +median(ratios).toFixed(3) } : {};
      const scenario = `open a finished run of 1,000,000 steps${kind === 'open' ? ' (Playwright: an inspector attached)' : ' (a plain Chromium: no inspector)'}`;
      console.log(JSON.stringify({ scenario, metricsLines: 10_000, medianMs: Math.round(median(times)), runs: times.map(Math.round), ...paired, phases }));
    }
    await plainChromium.close();
    s.proc.kill('SIGTERM');
    other?.proc.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true, maxRetries: 5 });
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
