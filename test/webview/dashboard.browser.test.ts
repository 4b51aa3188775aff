// The dashboard in a real headless Chromium, served by a real `adam-trainer serve`, training the shipped
// sample dataset: what a user sees when they open the URL the sidecar prints.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { DETAIL_POINTS, type ServerMessage } from '../../sidecar/protocol';
import { BrowserDashboard } from './browserDashboard';

const root = join(__dirname, '..', '..');
const dash = new BrowserDashboard();
let page: Page;
const { received, sent, pageErrors } = dash;

/** Polls `find` until it returns something (a frame sent or received), for at most 10 s. */
async function waitFor<T>(find: () => T | undefined): Promise<T> {
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const found = find();
    if (found !== undefined) return found;
  }
  throw new Error(`nothing found within 10 s: ${find}`);
}

/** Reads a canvas's description (data-points, data-last-x, ...), written on every draw. */
const chartData = (id: string) => page.locator(`#chart-${id}`).evaluate((el) => ({ ...(el as HTMLElement).dataset }));

describe('the dashboard in a browser, served by adam-trainer serve', { timeout: 120_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-dashboard-', beforeLoad: (p) => p.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))) });
    page = dash.page;
  });

  after(() => dash.close());

  test('the page hands the token to the server once and keeps it out of the address bar', async () => {
    assert.doesNotMatch(page.url(), /token/);
  });

  test('the loss curve grows while a run started from the form trains on the sample data', async () => {
    await dash.startSampleRun();
    const first = Number((await chartData('loss')).points);
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.points) >= n + 3, first, { timeout: 15_000 });
    for (const id of ['accuracy', 'learningRate', 'samplesPerSec', 'updateRatio']) assert.ok(Number((await chartData(id)).points) > 0, `${id} has no points`);
    const startFrame = sent.map((s) => JSON.parse(s)).find((m) => m.type === 'start');
    assert.equal(startFrame.config.data, 'sample');
  });

  test('an lr edit in the form is applied, marked on the curves, and carried by the next metrics', async () => {
    await page.fill('#field-learningRate', '0.003');
    assert.equal(await page.isDisabled('#apply'), false);
    await page.click('#apply');
    await page.locator('#form-status', { hasText: 'Applied at step' }).waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLElement>('#chart-loss')?.dataset.markers ?? '').includes('lr 0.001 → 0.003'), undefined, { timeout: 5_000 });
    const appliedAt = received.findIndex((m) => m.type === 'applied');
    const applied = received[appliedAt] as Extract<ServerMessage, { type: 'applied' }>;
    assert.deepEqual(applied.changes, { learningRate: { from: 0.001, to: 0.003 } });
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart-learningRate')?.dataset.lastY === '0.003', undefined, { timeout: 10_000 });
    const next = received.slice(appliedAt + 1).find((m): m is Extract<ServerMessage, { type: 'metrics' }> => m.type === 'metrics');
    assert.ok(next, 'no metrics after the applied change');
    assert.equal(next.learningRate, 0.003);
    assert.ok(next.step >= applied.step, 'applied.step is the first step trained with the new value');
  });

  test('pause stops the curves and resume continues them', async () => {
    await page.click('#pause');
    await page.locator('#run-state', { hasText: 'paused' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.isDisabled('#pause'), true);
    // The charts draw at the scheduler's pace: wait until the last step trained before the pause is drawn.
    const pausedFrame = received.findLastIndex((m) => m.type === 'state' && m.state === 'paused');
    const lastBefore = received.slice(0, pausedFrame).findLast((m) => m.type === 'metrics');
    assert.ok(lastBefore?.type === 'metrics');
    await page.waitForFunction((x) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.lastX) === x, lastBefore.step, { timeout: 10_000 });
    const pausedAt = (await chartData('loss')).lastX;
    await page.waitForTimeout(800);
    assert.equal((await chartData('loss')).lastX, pausedAt);
    assert.equal(received.slice(pausedFrame + 1).filter((m) => m.type === 'metrics').length, 0, 'metrics arrived while paused');
    await page.click('#resume');
    await page.locator('#run-state', { hasText: 'running' }).waitFor({ timeout: 10_000 });
    await page.waitForFunction((x) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.lastX) > Number(x), pausedAt, { timeout: 10_000 });
  });

  test('Shift+drag zooms every step chart to the same steps, and Reset zoom brings back the whole, growing run', async () => {
    const box = (await page.locator('#chart-loss').boundingBox())!;
    const full = await chartData('loss');
    await page.keyboard.down('Shift');
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 5 });
    await page.mouse.up();
    await page.keyboard.up('Shift');
    await page.waitForTimeout(250);
    const zoomed = await chartData('loss');
    assert.ok(Number(zoomed.xMax) - Number(zoomed.xMin) < (Number(full.xMax) - Number(full.xMin)) / 2, `zoomed to ${zoomed.xMin}..${zoomed.xMax}`);
    for (const id of ['accuracy', 'learningRate', 'samplesPerSec', 'updateRatio']) {
      const c = await chartData(id);
      assert.deepEqual([c.xMin, c.xMax], [zoomed.xMin, zoomed.xMax], `${id} follows the zoom`);
    }
    // Zoomed, the page asks the run store for the range's full detail and draws every step's loss from it.
    const asked = await waitFor(() => sent.map((x) => JSON.parse(x)).findLast((m) => m.type === 'detail'));
    assert.ok(asked.fromStep <= Number(zoomed.xMin) + 1 && asked.toStep >= Number(zoomed.xMax) - 1, `asked for ${asked.fromStep}..${asked.toStep}`);
    const answer = await waitFor(() => received.find((m): m is Extract<ServerMessage, { type: 'detail' }> => m.type === 'detail' && m.requestId === asked.requestId));
    assert.ok(answer.loss.steps.length > 0, `no losses for ${JSON.stringify(asked)}: ${JSON.stringify(answer).slice(0, 300)}`);
    // Every step when the range holds at most DETAIL_POINTS of them, else buckets of ceil(range / DETAIL_POINTS).
    const per = Math.ceil((asked.toStep - asked.fromStep) / DETAIL_POINTS);
    assert.deepEqual(answer.loss.steps.slice(0, 2), [asked.fromStep + per, asked.fromStep + 2 * per], `${per} step(s) a point: asked ${asked.fromStep}..${asked.toStep}, got ${answer.loss.steps.slice(0, 3)} .. ${answer.loss.steps.at(-1)}`);
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.points) === n, answer.loss.steps.length, { timeout: 10_000 });
    await page.click('#reset-zoom');
    await page.waitForTimeout(250);
    const reset = await chartData('loss');
    assert.ok(Number(reset.xMin) <= Number(full.xMin) + 1);
    await page.waitForFunction((x) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.xMax) > Number(x), reset.xMax, { timeout: 10_000 });
  });

  test('beta1 1.5 is refused in the form with the protocol\'s message and cannot be sent', async () => {
    const updatesBefore = sent.filter((s) => s.includes('"update"')).length;
    await page.fill('#field-beta1', '1.5');
    assert.equal(await page.textContent('#error-beta1'), 'beta1 must be in [0, 1), got 1.5');
    assert.equal(await page.getAttribute('#field-beta1', 'aria-invalid'), 'true');
    assert.equal(await page.isDisabled('#apply'), true);
    await page.press('#field-beta1', 'Enter');
    assert.equal(sent.filter((s) => s.includes('"update"')).length, updatesBefore);
  });

  test('after an epoch the per-class accuracy and the confusion matrix are shown', async () => {
    await page.locator('#confusion tbody tr').first().waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#confusion tbody tr').count(), 10);
    assert.equal(await page.locator('#class-bars .bar-row').count(), 10);
    assert.ok(Number((await chartData('testAccuracy')).points) >= 1);
  });

  test('the dashboard looks right (screenshot in test-results/dashboard.png)', async () => {
    await page.fill('#field-beta1', '1.5'); // the refused value stays visible in the picture
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(root, 'test-results', 'dashboard.png'), fullPage: true });
  });

  test('stop ends the run', async () => {
    await page.click('#stop');
    await page.locator('#run-state', { hasText: /stopped|done/ }).waitFor({ timeout: 15_000 });
  });

  test('the new-run form starts SGD with Nesterov momentum and flip-crop, and refuses Nesterov without momentum', async () => {
    await page.fill('#field-beta1', '0.9'); // refused above
    await page.selectOption('#field-optimizer', 'adam');
    assert.equal(await page.isDisabled('#field-nesterov'), true, 'Nesterov is SGD\'s');
    await page.selectOption('#field-optimizer', 'sgd');
    assert.equal(await page.isDisabled('#field-biasCorrection'), true, 'bias correction is the Adam family\'s');
    await page.check('#field-nesterov');
    await page.selectOption('#field-augment', 'flip-crop');
    await page.fill('#field-momentum', '0');
    await page.locator('#error-newrun', { hasText: 'nesterov needs momentum > 0' }).waitFor({ timeout: 5_000 });
    assert.equal(await page.isDisabled('#start'), true);
    await page.fill('#field-momentum', '0.9');
    await page.fill('#field-maxSteps', '50');
    await page.click('#start');
    const start = await new Promise<Record<string, any>>((resolve) => {
      const poll = () => {
        const frame = sent.map((f) => JSON.parse(f)).filter((m) => m.type === 'start').at(-1);
        if (frame?.config.nesterov) resolve(frame); else setTimeout(poll, 20);
      };
      poll();
    });
    assert.deepEqual([start.config.optimizer, start.config.nesterov, start.config.augment, start.config.biasCorrection], ['sgd', true, 'flip-crop', undefined]);
    await page.locator('#run-state', { hasText: 'done' }).waitFor({ timeout: 60_000 });
    const started = received.filter((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started').at(-1)!;
    assert.deepEqual([started.config.nesterov, started.config.augment], [true, 'flip-crop']);
  });

  test('the page logged no errors (CSP, scripts, icon)', () => {
    assert.deepEqual(pageErrors, []);
  });
});
