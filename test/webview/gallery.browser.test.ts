// "What the network learned" in a real headless Chromium against a real `adam-trainer serve` training the shipped
// sample: closed, the gallery asks the sidecar nothing; open, it shows test images with their top-3 from the run's
// current weights, filters them, opens a confusion-matrix cell, and classifies a chosen image with its filters and
// activation maps, all under the page's CSP; bad files get a sentence.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BrowserDashboard } from './browserDashboard';

const root = join(__dirname, '..', '..');
const dash = new BrowserDashboard();
let page: Page;
const { received, sent, pageErrors } = dash;
const sentOf = (type: string) => sent.map((s) => JSON.parse(s) as { type: string }).filter((m) => m.type === type).length;

describe('the gallery in a browser', { timeout: 180_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-gallery-', beforeLoad: (p) => p.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))) });
    page = dash.page;
  });
  after(() => dash.close());

  test('closed, the gallery sends nothing while the run trains and evaluates', async () => {
    await page.fill('#field-data', 'sample');
    await page.fill('#field-epochs', '200');
    await page.click('#start');
    await page.locator('#run-state', { hasText: 'running' }).waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => document.querySelectorAll('#confusion td.clickable').length > 0, undefined, { timeout: 60_000 });
    assert.ok(received.some((m) => m.type === 'eval'));
    assert.equal(sentOf('gallery') + sentOf('classify'), 0);
  });

  test('opened, it shows test images with the top-3 classes of the current weights, and filters them', async () => {
    await page.click('#gallery > summary');
    await page.locator('#gallery-grid figure').first().waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#gallery-grid figure').count(), 48);
    assert.equal(await page.locator('#gallery-grid figure').first().locator('ol.top3 li').count(), 3);
    await page.locator('#gallery-caption', { hasText: /\(current weights\): 1,000 of 1,000 test images match/ }).waitFor({ timeout: 30_000 });
    await page.selectOption('#gallery-show', 'wrong');
    await page.waitForFunction(() => /of 1,000 test images match/.test(document.querySelector('#gallery-caption')?.textContent ?? '') && !/^1,000 of/.test(document.querySelector('#gallery-caption')?.textContent?.split(': ')[1] ?? ''), undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll('#gallery-grid figure.right').length === 0 && document.querySelectorAll('#gallery-grid figure.wrong').length > 0, undefined, { timeout: 30_000 });
    const pixels = await page.locator('#gallery-grid canvas').first().evaluate((c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 32, 32).data;
      return new Set(Array.from(d.filter((_, i) => i % 4 === 0))).size;
    });
    assert.ok(pixels > 10, 'the first image is drawn (many distinct red levels)');
  });

  test('a confusion-matrix cell opens its images: that true class predicted as that class', async () => {
    const cell = page.locator('#confusion td.clickable:not(.diag)').first();
    await cell.click();
    const trueClass = Number(await page.locator('#gallery-true').inputValue());
    const predicted = Number(await page.locator('#gallery-predicted').inputValue());
    assert.notEqual(trueClass, predicted);
    const frame = sent.map((s) => JSON.parse(s)).filter((m) => m.type === 'gallery').pop();
    assert.deepEqual(frame.filter, { trueClass, predictedClass: predicted });
    await page.waitForFunction(() => !/Classifying/.test(document.querySelector('#gallery-caption')?.textContent ?? ''), undefined, { timeout: 30_000 });
  });

  test('a chosen image is classified beside its 32x32 version, with the resize stated, the filters and the activation maps', async () => {
    await page.locator('#gallery-file').setInputFiles({ name: 'icon.png', mimeType: 'image/png', buffer: readFileSync(join(root, 'media', 'icon.png')) });
    await page.waitForFunction(() => (document.querySelector('#classified-caption')?.textContent ?? '').includes('icon.png'), undefined, { timeout: 30_000 });
    assert.match((await page.locator('#classified-note').textContent()) ?? '', /transforms\.Resize\(\(32, 32\)\), PIL's bilinear filter/);
    assert.equal(await page.locator('#classified-top li').count(), 3);
    assert.equal(await page.locator('#conv1-filters canvas').count(), 6);
    assert.equal(await page.locator('#conv2-maps canvas').count(), 16);
    assert.match((await page.locator('#classified img.original').getAttribute('src')) ?? '', /^data:image\/png;base64,/);
  });

  test('a file that is not an image, and one too large to send, each get a sentence', async () => {
    await page.locator('#gallery-file').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture') });
    await page.locator('#gallery-message.error', { hasText: 'notes.png is not a PNG, JPEG or WebP image' }).waitFor({ timeout: 30_000 });
    await page.locator('#gallery-file').setInputFiles({ name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(900_000) });
    await page.locator('#gallery-message.error', { hasText: 'huge.jpg is 900,000 bytes, more than the dashboard can send' }).waitFor({ timeout: 5_000 });
  });

  test('closed again, it stops asking', async () => {
    await page.click('#gallery > summary');
    const before = sentOf('gallery') + sentOf('classify');
    const evals = received.filter((m) => m.type === 'eval').length;
    const deadline = Date.now() + 60_000;
    while (received.filter((m) => m.type === 'eval').length < evals + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(received.filter((m) => m.type === 'eval').length > evals, 'another evaluation came');
    await new Promise((r) => setTimeout(r, 4500)); // longer than the live refresh of a chosen image
    assert.equal(sentOf('gallery') + sentOf('classify'), before, sent.slice(-12).map((f) => f.slice(0, 160)).join('\n'));
    assert.deepEqual(pageErrors, []);
  });
});
