// Opening the dashboard on a run: the page's URL names the run it shows (`?run=`), its socket names the runs it is
// about to show, and their histories come with the sidecar's hello (no subscribe from the page, no second copy).
// The address bar follows the run the user opens, so a reload shows it again. Real serve, real Chromium; the runs
// folder is written with the product's run store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { resolveConfig, type MetricsMessage } from '../../sidecar/protocol';
import { RunStore } from '../../sidecar/store/runs';
import { BrowserDashboard } from './browserDashboard';

const config = resolveConfig({ data: 'sample', maxSteps: 100_000 }, 2);
// Oldest first; the page alone would open the newest (run-c).
const RUNS = [
  { id: '20261201-000001-aaaaaa', steps: 30 },
  { id: '20261201-000002-bbbbbb', steps: 50 },
  { id: '20261201-000003-cccccc', steps: 20 },
];
const lastStep = (id: string) => String(RUNS.find((r) => r.id === id)!.steps * 10);

function prepare(runsDir: string): void {
  const store = new RunStore(runsDir);
  for (const { id, steps } of RUNS) {
    store.createRun(id, config);
    store.appendEvent(id, { type: 'state', runId: id, state: 'running' });
    for (let s = 1; s <= steps; s++) {
      const m: MetricsMessage = { type: 'metrics', runId: id, step: s * 10, epoch: 0, samplesSeen: s * 40, loss: 2 - s / 100, lossMin: 1, lossMax: 3, accuracy: 0.1, learningRate: 1e-3, samplesPerSec: 1000, updateRatio: { conv1: 0.5 } };
      store.appendEvent(id, m);
    }
    store.appendEvent(id, { type: 'state', runId: id, state: 'done', step: steps * 10 });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // distinct createdAt
  }
}

const dash = new BrowserDashboard();
let page: Page;
const { received, sent, pageErrors } = dash;
const chartLastX = () => page.locator('#chart-loss').evaluate((el) => (el as HTMLElement).dataset.lastX);
const runInAddressBar = () => new URL(page.url()).searchParams.get('run');
const subscribesSent = () => sent.map((s) => JSON.parse(s) as { type: string; runId?: string }).filter((m) => m.type === 'subscribe');

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await cond()) return;
  throw new Error(`not within ${ms} ms: ${what}`);
}

/**
 * In the page, before its script: counts each use of the browser's locale formatting (ICU), by name. Plain JavaScript
 * in a string: a function of this file would be sent as tsx compiled it, with helpers the page does not have.
 */
const countLocaleCalls = `(() => {
  const calls = {};
  const count = (name) => { calls[name] = Object.hasOwn(calls, name) ? calls[name] + 1 : 1; }; // not calls[name] || 0: {}.toLocaleString is a function
  for (const name of ['NumberFormat', 'Collator', 'DateTimeFormat', 'PluralRules']) {
    const Original = Intl[name];
    const Counted = function (...a) { count('Intl.' + name); return new Original(...a); };
    Counted.prototype = Original.prototype;
    Intl[name] = Counted;
  }
  const wrap = (proto, method) => {
    const original = proto[method];
    proto[method] = function (...a) { count(method); return original.apply(this, a); };
  };
  wrap(Number.prototype, 'toLocaleString');
  wrap(String.prototype, 'localeCompare');
  for (const m of ['toLocaleString', 'toLocaleDateString', 'toLocaleTimeString']) wrap(Date.prototype, m);
  window.localeCalls = calls;
})();`;

/**
 * In the page, before its script: counts the text drawn on the dashboard's charts (tick labels, titles), and how much of
 * it came before the first history was loaded (Chart.js laid out and drew each chart, empty, as it was attached).
 */
const countChartText = `(() => {
  window.chartText = { total: 0, beforeHistory: 0 };
  const original = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (...a) {
    if (this.canvas.id.startsWith('chart-')) {
      window.chartText.total++;
      if (performance.getEntriesByName('adam:history-loaded').length === 0) window.chartText.beforeHistory++;
    }
    return original.apply(this, a);
  };
})();`;
/**
 * In the page, before its script: the socket's open event and messages come 400 ms late, in order (a loaded machine
 * or a slow sidecar), so the page's first frames come while it is still connecting, before any history.
 */
const slowSocket = `(() => {
  for (const event of ['onopen', 'onmessage']) {
    const own = Object.getOwnPropertyDescriptor(WebSocket.prototype, event);
    Object.defineProperty(WebSocket.prototype, event, {
      configurable: true,
      get() { return own.get.call(this); },
      set(handler) { own.set.call(this, (e) => setTimeout(() => handler.call(this, e), 400)); },
    });
  }
})();`;
const chartText = () => page.evaluate(() => (window as unknown as { chartText: { total: number; beforeHistory: number } }).chartText);

describe('opening the dashboard on a run named in its URL', { timeout: 120_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-openrun-', prepare, query: `&run=${RUNS[0].id}`, beforeLoad: (p) => Promise.all([countLocaleCalls, countChartText, slowSocket].map((content) => p.addInitScript({ content }))) });
    page = dash.page;
  });
  after(() => dash.close());

  test('shows the run the URL names, not the newest, with the history that came with hello and nothing asked for', async () => {
    await until('the named run drawn', async () => (await chartLastX()) === lastStep(RUNS[0].id));
    const hello = received.find((m) => m.type === 'hello');
    assert.ok(hello && hello.type === 'hello');
    assert.deepEqual(hello.subscribed, [RUNS[0].id]);
    assert.deepEqual(subscribesSent(), [], 'the page asked for no history');
    assert.equal(received.filter((m) => m.type === 'history').length, 1, 'one history, the named run\'s');
    assert.equal(runInAddressBar(), RUNS[0].id);
    assert.match(await page.locator('#runs-list li.current').innerText(), new RegExp(RUNS[0].id));
  });

  test('opening it used none of the browser\'s locale formatting, whose data (ICU) takes 30-55 ms to load', async () => {
    // The page writes counts and sorts ids itself (webview/text.ts), and gives Chart.js its tick labels.
    assert.deepEqual(await page.evaluate(() => (window as unknown as { localeCalls: Record<string, number> }).localeCalls), {});
  });

  test('no chart is laid out or drawn before the run\'s history is there, even while the socket is opening: each is drawn once, with the run in it', async () => {
    const text = await chartText();
    assert.equal(text.beforeHistory, 0, 'text drawn on the charts before the history');
    assert.ok(text.total > 0, 'the charts were drawn');
  });

  test('opening another run puts it in the address bar; a reload shows it, its history again sent with hello', async () => {
    await page.locator(`button[data-run-id="${RUNS[1].id}"]`).click();
    await until('the second run drawn', async () => (await chartLastX()) === lastStep(RUNS[1].id));
    assert.deepEqual(subscribesSent().map((m) => m.runId), [RUNS[1].id], 'opened from the list: asked for once');
    assert.equal(runInAddressBar(), RUNS[1].id);
    received.length = 0;
    sent.length = 0;
    await page.reload();
    await until('the second run drawn after the reload', async () => (await chartLastX()) === lastStep(RUNS[1].id));
    const hello = received.find((m) => m.type === 'hello');
    assert.ok(hello && hello.type === 'hello');
    assert.deepEqual(hello.subscribed, [RUNS[1].id]);
    assert.deepEqual(subscribesSent(), []);
  });

  test('a URL that names a run that is not there says so, and the page shows the newest run instead', async () => {
    received.length = 0;
    sent.length = 0;
    const url = new URL(page.url());
    url.searchParams.set('run', '20261201-000009-gone00');
    await page.goto(url.href);
    await until('the newest run drawn', async () => (await chartLastX()) === lastStep(RUNS[2].id));
    await until('a notice names the missing run', async () => (await page.locator('#notices').innerText()).includes('20261201-000009-gone00'));
    assert.equal(runInAddressBar(), RUNS[2].id, 'the address bar names the run shown');
    assert.deepEqual(subscribesSent().map((m) => m.runId), [RUNS[2].id]);
  });

  test('the page logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});

describe('the dashboard with no run at all', { timeout: 60_000 }, () => {
  const empty = new BrowserDashboard();
  before(() => empty.open({ prefix: 'adam-norun-', beforeLoad: (p) => p.addInitScript({ content: countChartText }) }));
  after(() => empty.close());

  test('draws its charts\' empty axes: nothing on the way holds them back', async () => {
    const drawn = () => empty.page.evaluate(() => (window as unknown as { chartText: { total: number } }).chartText.total);
    await until('the empty charts drawn', async () => (await drawn()) > 0);
    assert.equal(await empty.page.locator('#chart-loss').evaluate((el) => (el as HTMLElement).dataset.points), '0');
    assert.deepEqual(empty.pageErrors, []);
  });
});
