// A real `adam-trainer serve` and a real headless Chromium on its dashboard, for the browser tests of the webview:
// the page's errors and every WebSocket frame it receives and sends are collected for the test to read.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import { listeningSchema, parseServerMessage, type ServerMessage } from '../../sidecar/protocol';
import { CHROMIUM_PATH } from '../support/system';

const root = join(__dirname, '..', '..');

export class BrowserDashboard {
  tmp = '';
  serve!: ChildProcess;
  browser!: Browser;
  page!: Page;
  url = '';
  readonly received: ServerMessage[] = [];
  readonly sent: string[] = [];
  readonly pageErrors: string[] = [];

  /** Builds if needed, starts serve on a temporary runs folder, opens the dashboard and waits for its connection. */
  async open(opts: { prefix: string; beforeLoad?: (page: Page) => Promise<unknown>; prepare?: (runsDir: string) => void; query?: string }): Promise<void> {
    if (!existsSync(join(root, 'dist', 'webview', 'dashboard.js')) || !existsSync(join(root, 'dist', 'cli.js'))) {
      const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
      assert.equal(build.status, 0, 'the build failed');
    }
    this.tmp = mkdtempSync(join(tmpdir(), opts.prefix));
    opts.prepare?.(join(this.tmp, 'runs'));
    this.url = await this.startServe();
    this.browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    this.page = await this.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await opts.beforeLoad?.(this.page);
    this.page.on('pageerror', (e) => this.pageErrors.push(e.stack ?? e.message));
    this.page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') this.pageErrors.push(m.text());
    });
    this.page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        const parsed = parseServerMessage(String(f.payload));
        if (parsed.ok) this.received.push(parsed.message);
      });
      ws.on('framesent', (f) => this.sent.push(String(f.payload)));
    });
    await this.page.goto(`${this.url}${opts.query ?? ''}`);
    await this.page.locator('#connection.open').waitFor({ timeout: 10_000 });
  }

  /** Starts a run from the page's form on the shipped sample (long enough to outlast a test) and waits for its curve. */
  async startSampleRun(): Promise<void> {
    await this.page.fill('#field-data', 'sample');
    await this.page.fill('#field-epochs', '200');
    await this.page.fill('#field-maxSteps', '150000');
    await this.page.click('#start');
    await this.page.locator('#run-state', { hasText: 'running' }).waitFor({ timeout: 30_000 });
    await this.page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.points) >= 3, undefined, { timeout: 30_000 });
  }

  /** Closes the browser, stops serve (SIGTERM, then SIGKILL after 6 s) and removes the temporary folder. */
  async close(): Promise<void> {
    await this.browser?.close();
    const serve = this.serve;
    if (serve && serve.exitCode === null) {
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 6000))]);
      if (serve.exitCode === null) serve.kill('SIGKILL');
    }
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }

  private async startServe(): Promise<string> {
    this.serve = spawn(process.execPath, [join(root, 'bin', 'adam-trainer.js'), 'serve', '--runs-dir', join(this.tmp, 'runs'), '--cache-dir', join(this.tmp, 'cache')], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    this.serve.stderr!.on('data', (d) => (stderr += d));
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: this.serve.stdout! }).once('line', resolve);
      this.serve.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
    });
    const listening = listeningSchema.parse(JSON.parse(firstLine));
    return `http://127.0.0.1:${listening.port}/?token=${encodeURIComponent(listening.token)}`;
  }
}
