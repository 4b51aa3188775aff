// The step heatmaps in a real Chromium on the dashboard of a real `adam-trainer serve`: a run started from the
// form sends step histograms; the collapsed section draws nothing; opened, every layer's two heatmaps are painted
// from the columns the page received (live), and a reload draws the same run from its history.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { LAYER_NAMES } from '../../sidecar/nn/spec';
import { BrowserDashboard } from './browserDashboard';

const dash = new BrowserDashboard();
let page: Page;

/** Painted pixels of a heatmap canvas (any pixel not fully transparent), and its data-columns/data-cells. */
async function heatmap(id: string): Promise<{ pixels: number; columns: number; cells: number }> {
  return page.evaluate((canvasId) => {
    const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
    // Read through a copy made for reading, so the page's own canvas is left as the dashboard uses it.
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const ctx = copy.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(canvas, 0, 0);
    const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
    let pixels = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) pixels++;
    return { pixels, columns: Number(canvas.dataset.columns), cells: Number(canvas.dataset.cells) };
  }, id);
}

describe('the step heatmaps in a browser, from a real sidecar', { timeout: 150_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-heatmaps-' });
    page = dash.page;
  });

  after(() => dash.close());

  test('a collapsed section draws nothing while step histograms arrive', async () => {
    await page.fill('#field-data', 'sample');
    await page.fill('#field-epochs', '200');
    await page.fill('#field-maxSteps', '150000');
    await page.click('#start');
    await page.locator('#run-state', { hasText: 'running' }).waitFor({ timeout: 30_000 });
    const deadline = Date.now() + 60_000;
    while (dash.received.filter((m) => m.type === 'stepHistogram').length < 3) {
      assert.ok(Date.now() < deadline, 'no step histograms within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await page.evaluate(() => (document.getElementById('step-heatmaps') as HTMLDetailsElement).open), false);
    assert.equal(await page.evaluate(() => document.getElementById('step-heatmaps')!.dataset.draws), undefined, 'drawn while collapsed');
  });

  test('opened, each layer\'s two heatmaps are painted from the received columns, with the guide lines, and grow live', async () => {
    await page.click('#step-heatmaps summary');
    await page.waitForFunction(() => Number(document.getElementById('heatmap-fc1-updateRatio')?.dataset.columns) >= 3, undefined, { timeout: 20_000 });
    for (const layer of LAYER_NAMES) {
      for (const kind of ['effectiveStep', 'updateRatio']) {
        const h = await heatmap(`heatmap-${layer}-${kind}`);
        assert.ok(h.cells > 0 && h.pixels > 500, `${layer} ${kind}: ${h.cells} cells, ${h.pixels} pixels`);
      }
    }
    const shown = (await heatmap('heatmap-conv1-effectiveStep')).columns;
    const received = dash.received.filter((m) => m.type === 'stepHistogram').length; // read after: more may have come
    assert.ok(shown >= 3 && shown <= received, `${shown} columns shown, ${received} received`);
    await page.waitForFunction((n) => Number(document.getElementById('heatmap-conv1-effectiveStep')?.dataset.columns) > n, shown, { timeout: 30_000 });
    // The guide lines' labels are drawn text; the notes say what is shown.
    assert.match(await page.locator('#step-heatmaps-note').innerText(), /columns up to step/);
    assert.match(await page.locator('#adam-charts').innerText(), /1e-3/);
    assert.equal(await page.locator('#adam-panel a[href*="1412.6980#subsection.2.1"]').count() >= 2, true);
    assert.equal(await page.locator('#adam-panel a[href*="1412.6980#section.3"]').count() >= 2, true);
  });

  test('after a reload the stopped run\'s heatmaps come back from its history', async () => {
    await page.click('#stop');
    await page.locator('#run-state', { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
    await page.reload();
    await page.locator('#connection.open').waitFor({ timeout: 10_000 });
    const history = await (async () => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const h = dash.received.filter((m) => m.type === 'history').pop();
        if (h && h.type === 'history' && h.state === 'stopped') return h;
        assert.ok(Date.now() < deadline, 'no history of the stopped run');
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const recorded = history.stepHistograms ?? [];
    assert.ok(recorded.length >= 1);
    await page.click('#step-heatmaps summary');
    await page.waitForFunction((n) => Number(document.getElementById('heatmap-fc3-updateRatio')?.dataset.columns) === n, recorded.length, { timeout: 20_000 });
    const h = await heatmap('heatmap-fc3-updateRatio');
    assert.ok(h.cells > 0 && h.pixels > 500);
    assert.deepEqual(dash.pageErrors, []);
  });
});
