// The VS Code panel path without VS Code: the panel's own HTML (nonce CSP, no 'unsafe-inline') loaded in
// headless Chromium with a stand-in for acquireVsCodeApi, wired through the real Relay to a real sidecar
// supervised by the real Sidecar class. Only the VS Code API itself is faked, as the edge we do not own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { dashboardHtml } from '../../extension/html';
import { Relay } from '../../extension/relay';
import { Sidecar } from '../../extension/sidecar';
import type { ServerMessage } from '../../sidecar/protocol';
import { CHROMIUM_PATH } from '../support/system';

const root = join(__dirname, '..', '..');
const ORIGIN = 'https://webview.test';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** What VS Code gives a webview: acquireVsCodeApi with postMessage and getState/setState (kept across reloads). */
const VSCODE_STAND_IN = `
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__toHost(m),
    getState: () => JSON.parse(sessionStorage.getItem('vscodeState') || 'null'),
    setState: (s) => sessionStorage.setItem('vscodeState', JSON.stringify(s)),
  });
  // A dark VS Code theme's variables, as VS Code sets them on the webview's html element (which does not
  // exist yet when this runs).
  const theme = () => { const style = document.documentElement.style;
  for (const [k, v] of Object.entries({ '--vscode-editor-background': '#1e1e1e', '--vscode-editor-foreground': '#d4d4d4', '--vscode-sideBar-background': '#252526',
    '--vscode-panel-border': '#3c3c3c', '--vscode-descriptionForeground': '#9d9d9d', '--vscode-button-background': '#0e639c', '--vscode-button-foreground': '#ffffff', '--vscode-button-secondaryBackground': '#3a3d41', '--vscode-button-secondaryForeground': '#cccccc',
    '--vscode-input-background': '#3c3c3c', '--vscode-input-foreground': '#cccccc', '--vscode-errorForeground': '#f48771', '--vscode-font-family': 'system-ui, sans-serif' })) style.setProperty(k, v); };
  if (document.documentElement) theme();
  else new MutationObserver((_, o) => { if (document.documentElement) { o.disconnect(); theme(); } }).observe(document, { childList: true });
`;

let tmp: string;
let browser: Browser;
let page: Page;
let sidecar: Sidecar;
let relay: Relay;
const toHost: unknown[] = [];
const followed = new Set<string>();
const fromSidecar: ServerMessage[] = [];
const pageErrors: string[] = [];
const postedTypes: string[] = [];
let posting: Promise<unknown> = Promise.resolve();

describe('the dashboard panel: webview HTML + relay + supervised sidecar', { timeout: 120_000 }, () => {
  before(async () => {
    if (!existsSync(join(root, 'dist', 'webview', 'dashboard.js')) || !existsSync(join(root, 'dist', 'cli.js'))) {
      assert.equal(spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' }).status, 0, 'the build failed');
    }
    tmp = mkdtempSync(join(tmpdir(), 'adam-panel-'));
    relay = new Relay({
      // In order, as webview.postMessage delivers them.
      post: (m) => {
        postedTypes.push((m as { type: string }).type);
        posting = posting.then(() => page?.evaluate((msg) => window.postMessage(msg, '*'), m as never)).catch(() => undefined);
      },
      send: (m) => sidecar.send(m),
      followed: () => followed,
    });
    sidecar = new Sidecar(
      { script: join(root, 'bin', 'adam-trainer.js'), runsDir: join(tmp, 'runs'), cacheDir: join(tmp, 'cache') },
      {
        message: (m) => {
          fromSidecar.push(m);
          relay.fromSidecar(m);
        },
        state: (s, detail) => relay.setConnection(s === 'ready' ? 'open' : s === 'starting' || s === 'restarting' ? 'connecting' : 'closed', detail),
        log: () => undefined,
      },
    );
    await sidecar.start();

    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1300, height: 950 } });
    page.on('pageerror', (e) => pageErrors.push(e.stack ?? e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') pageErrors.push(m.text());
    });
    await page.exposeFunction('__toHost', (m: unknown) => {
      toHost.push(m);
      relay.fromWebview(m);
    });
    await page.addInitScript(VSCODE_STAND_IN);
    const html = dashboardHtml({ cspSource: ORIGIN, scriptUri: `${ORIGIN}/dashboard.js`, styleUri: `${ORIGIN}/dashboard.css` });
    await page.route(`${ORIGIN}/**`, (route) => {
      const name = new URL(route.request().url()).pathname.slice(1);
      if (name === 'index.html') return route.fulfill({ body: html, contentType: 'text/html' });
      const file = join(root, 'dist', 'webview', name);
      if (!/^[\w.-]+$/.test(name) || !existsSync(file)) return route.fulfill({ status: 404 });
      return route.fulfill({ body: readFileSync(file), contentType: TYPES[extname(name)] ?? 'application/octet-stream' });
    });
    await page.goto(`${ORIGIN}/index.html`);
    await page.locator('#connection.open').waitFor({ timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    await sidecar?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the panel runs under its nonce CSP without a violation and says ready before anything is posted to it', async () => {
    assert.deepEqual(toHost[0], { type: 'ready' });
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
  });

  test('a run the extension starts is shown and its curves grow', async () => {
    assert.ok(sidecar.send({ type: 'start', config: { data: 'sample', epochs: 200, maxSteps: 150_000 }, requestId: 'ext-1' }));
    const started = await waitFor(() => fromSidecar.find((m) => m.type === 'started'));
    assert.ok(started.type === 'started');
    followed.add(started.runId);
    await page.locator('#run-name', { hasText: started.runId }).waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.points) >= 5, undefined, { timeout: 30_000 });
  });

  test('the live stream reaches the page in batches, and each message in a batch is checked as if it came alone', async () => {
    // The run above trains: its metrics and step histograms come through the real relay, several to a post.
    await waitFor(() => (postedTypes.filter((t) => t === 'batch').length >= 3 ? true : undefined));
    const runId = (await page.textContent('#run-name'))!.trim();
    const shown = async () => Number(await page.getAttribute('#chart-loss', 'data-points'));
    const before = await shown();
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.points) > n, before, { timeout: 30_000 });
    // A batch with a message the protocol refuses: that one is reported, the others are handled.
    await page.evaluate((id) => window.postMessage({ type: 'batch', messages: [{ type: 'metrics', runId: id, step: 'soon' }, { type: 'state', runId: id, state: 'running' }] }, '*'), runId);
    await page.locator('#notices', { hasText: 'Ignored a message from the sidecar' }).waitFor({ timeout: 10_000 });
    assert.equal((await page.locator('#run-state').textContent())?.trim(), 'running');
  });

  test('the page tells the relay how often it draws the live run, at most once a frame', async () => {
    const paces = () => toHost.filter((m): m is { type: 'pace'; drawEveryMs: number } => (m as { type: string }).type === 'pace');
    const first = await waitFor(() => paces()[0]);
    assert.ok(Number.isInteger(first.drawEveryMs) && first.drawEveryMs >= 200 && first.drawEveryMs <= 2000, JSON.stringify(first));
    const frames = await page.evaluate(() => (window as unknown as { adamFrames: { since(t: number): number[] } }).adamFrames.since(0).length);
    // When it is told again is the scheduler's test (drawScheduler.test.ts); here, never more often than a frame is drawn.
    assert.ok(paces().length <= frames, `${paces().length} paces told in ${frames} frames`);
  });

  test('a checkpoint asked for in the panel is announced; the run\'s routine checkpoints are not', async () => {
    const runId = (await page.textContent('#run-name'))!.trim();
    // The run writes latest.ckpt as it trains, and each comes through the relay (checkpointed, without a request).
    await waitFor(() => (fromSidecar.some((m) => m.type === 'checkpointed' && m.requestId === undefined) ? true : undefined));
    assert.equal(await page.locator('#notices', { hasText: 'Checkpoint of' }).count(), 0);
    await page.click('#checkpoint');
    await page.locator('#notices', { hasText: new RegExp(`Checkpoint of ${runId} at step [\\d,]+ saved: .*step-\\d+\\.ckpt`) }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#notices li', { hasText: 'Checkpoint of' }).count(), 1);
  });

  test('an edit in the panel goes through the relay and is applied by the sidecar', async () => {
    await page.fill('#field-learningRate', '0.002');
    await page.click('#apply');
    await page.locator('#form-status', { hasText: 'Applied at step' }).waitFor({ timeout: 15_000 });
    const update = toHost.find((m) => (m as { type: string }).type === 'update');
    assert.equal((update as { learningRate: number }).learningRate, 0.002);
  });

  test('the open run and the settings survive the webview being destroyed and recreated', async () => {
    await page.locator('#smoothing').fill('0.8');
    await page.check('#log-loss');
    const runId = await page.textContent('#run-name');
    relay.webviewGone(); // the tab was hidden: VS Code destroys the page
    const before = toHost.length;
    await page.reload();
    await page.locator('#connection.open').waitFor({ timeout: 10_000 });
    // The old page's 15 s refresh of the run list can fire while it is being reloaded; the new page's first word is ready.
    assert.deepEqual(toHost.slice(before).find((m) => (m as { type: string }).type !== 'list'), { type: 'ready' });
    await page.locator('#run-name', { hasText: runId! }).waitFor({ timeout: 10_000 });
    assert.equal(await page.inputValue('#smoothing'), '0.8');
    assert.equal(await page.isChecked('#log-loss'), true);
    assert.ok(toHost.slice(before).some((m) => (m as { type: string; runId?: string }).type === 'subscribe' && (m as { runId: string }).runId === runId), 're-subscribed');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.points) >= 3, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLElement>('#chart-loss')?.dataset.markers ?? '').includes('lr 0.001 → 0.002'), undefined, { timeout: 10_000 });
  });

  test('the panel in a dark VS Code theme (screenshot in test-results/panel-dark.png)', async () => {
    await page.locator('#confusion tbody tr').first().waitFor({ timeout: 30_000 });
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-results', 'panel-dark.png'), fullPage: true });
    const runId = (await page.textContent('#run-name'))!;
    sidecar.send({ type: 'stop', runId });
    await page.locator('#run-state', { hasText: /stopped|done/ }).waitFor({ timeout: 15_000 });
  });

  test('the panel logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});

async function waitFor<T>(find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
