// A comparison over seeds in the dashboard, in a real headless Chromium served by a real `adam-trainer serve`
// training the shipped sample: started from the page, drawn as each optimizer's mean curve with its band, the
// test accuracy of every seed and the verdict, live as the runs finish, and again after a reload.
import { after, before, describe, test } from 'node:test';
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

let tmp: string;
let serve: ChildProcess;
let browser: Browser;
let page: Page;
let url: string;
const received: ServerMessage[] = [];
const sent: string[] = [];
const pageErrors: string[] = [];

async function startServe(): Promise<string> {
  serve = spawn(process.execPath, [join(root, 'bin', 'adam-trainer.js'), 'serve', '--runs-dir', join(tmp, 'runs'), '--cache-dir', join(tmp, 'cache')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  serve.stderr!.on('data', (d) => (stderr += d));
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: serve.stdout! }).once('line', resolve);
    serve.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
  });
  const listening = listeningSchema.parse(JSON.parse(firstLine));
  return `http://127.0.0.1:${listening.port}/?token=${encodeURIComponent(listening.token)}`;
}

const groupData = () => page.locator('#chart-group').evaluate((el) => ({ ...(el as HTMLElement).dataset }));

describe('a comparison over seeds in the dashboard', { timeout: 120_000 }, () => {
  before(async () => {
    if (!existsSync(join(root, 'dist', 'webview', 'dashboard.js')) || !existsSync(join(root, 'dist', 'cli.js'))) {
      const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
      assert.equal(build.status, 0, 'the build failed');
    }
    tmp = mkdtempSync(join(tmpdir(), 'adam-group-'));
    url = await startServe();
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(e.stack ?? e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') pageErrors.push(m.text());
    });
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        const parsed = parseServerMessage(String(f.payload));
        if (parsed.ok) received.push(parsed.message);
      });
      ws.on('framesent', (f) => sent.push(String(f.payload)));
    });
    await page.goto(url);
    await page.locator('#connection.open').waitFor({ timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    if (serve && serve.exitCode === null) {
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 6000))]);
      if (serve.exitCode === null) serve.kill('SIGKILL');
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('started from the page, every seed of every optimizer lands in the table, with the curves and the verdict', async () => {
    await page.fill('#field-data', 'sample');
    await page.fill('#field-epochs', '1');
    await page.fill('#field-maxSteps', '300');
    await page.fill('#group-seed-count', '2');
    await page.click('#group-start');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart-group')?.dataset.finished === '4', undefined, { timeout: 90_000 });
    const compare = sent.map((s) => JSON.parse(s)).find((m) => m.type === 'compare');
    assert.deepEqual(compare.optimizers, ['adam', 'sgd']);
    assert.deepEqual(compare.seeds, [1, 2]);
    assert.equal(compare.config.data, 'sample');
    assert.equal(compare.config.maxSteps, 300);

    const d = await groupData();
    const curves = d.curves!.split('|').map((c) => c.split(':'));
    assert.deepEqual(curves.map((c) => [c[0], c[1]]), [['adam', '2'], ['sgd', '2']]);
    for (const c of curves) assert.ok(Number(c[2]) > 0, `${c[0]} has a mean curve`);

    // The table and the interval are the final evaluations' accuracies, paired by seed.
    const group = received.find((m): m is Extract<ServerMessage, { type: 'comparing' }> => m.type === 'comparing')!.group;
    assert.equal(d.group, group.id);
    const runs = received.filter((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started' && m.group?.id === group.id);
    const final = (runId: string) => received.filter((m): m is Extract<ServerMessage, { type: 'eval' }> => m.type === 'eval' && m.runId === runId).at(-1)!.testAccuracy;
    const acc = (o: string, seed: number) => final(runs.find((r) => r.config.optimizer === o && r.config.seed === seed)!.runId);
    const diffs = [1, 2].map((s) => acc('adam', s) - acc('sgd', s));
    assert.ok(Math.abs(Number(d.differenceMean) - (diffs[0] + diffs[1]) / 2) < 1e-12);
    for (const seed of [1, 2]) {
      const cells = await page.locator(`#group-seeds tr[data-seed="${seed}"] td`).allTextContents();
      assert.equal(cells[0], `${(100 * acc('adam', seed)).toFixed(2)}%`);
      assert.equal(cells[1], `${(100 * acc('sgd', seed)).toFixed(2)}%`);
    }
    assert.match((await page.textContent('#group-verdict'))!, /^adam - sgd = [+-]\d+\.\d\d points of test accuracy \(95% CI .*paired over 2 seeds\): the interval (excludes|includes) zero/);
    assert.match((await page.textContent('#group-status'))!, /adam vs sgd over 2 seeds: 4 of 4 runs finished/);
  });

  test('the band toggles between min-max and one standard deviation', async () => {
    assert.equal((await groupData()).band, 'minmax');
    await page.selectOption('#group-band', 'std');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart-group')?.dataset.band === 'std', undefined, { timeout: 5_000 });
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.locator('#card-group').screenshot({ path: join(root, 'test-results', 'dashboard-group.png') });
  });

  test('after a reload the comparison is open again, drawn from the runs folder', async () => {
    await page.reload();
    await page.locator('#connection.open').waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart-group')?.dataset.finished === '4', undefined, { timeout: 20_000 });
    const d = await groupData();
    assert.equal(d.band, 'std');
    for (const c of d.curves!.split('|')) assert.match(c, /^(adam|sgd):2:[1-9]\d*$/);
  });

  test('the page logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
