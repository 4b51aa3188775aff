// The learning-rate schedule in the dashboard, in a real headless Chromium on a real `adam-trainer serve`: a run
// started with a schedule draws its whole planned lr ahead of it (dashed), and a schedule edit from the form is
// applied like any edit, marked, and the plan redraws from its step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { learningRateAt } from '../../sidecar/optim/schedule';
import type { RunConfig, ServerMessage } from '../../sidecar/protocol';
import { BrowserDashboard } from './browserDashboard';

const root = join(__dirname, '..', '..');
const dash = new BrowserDashboard();
let page: Page;
const lrChart = () => page.locator('#chart-learningRate').evaluate((el) => ({ ...(el as HTMLElement).dataset }) as Record<string, string>);

describe('the learning-rate schedule in the dashboard', { timeout: 180_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-schedule-' });
    page = dash.page;
  });
  after(() => dash.close());

  test('a run started with a cosine schedule and warmup draws its whole planned lr, dashed, ahead of the run', async () => {
    await page.fill('#field-data', 'sample');
    await page.fill('#field-epochs', '40');
    await page.selectOption('#field-schedule', 'cosine');
    await page.fill('#field-warmupSteps', '2000');
    await page.fill('#field-minLearningRate', '0.00001');
    assert.equal(await page.locator('#field-stepSize').evaluate((el) => el.closest('.field')!.classList.contains('unused')), true, 'cosine does not read stepSize');
    await page.click('#start');
    await page.locator('#run-state', { hasText: 'running' }).waitFor({ timeout: 30_000 });
    const start = dash.sent.map((s) => JSON.parse(s)).find((m) => m.type === 'start');
    assert.equal(start.config.schedule, 'cosine');
    assert.equal(start.config.warmupSteps, 2000);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-learningRate')?.dataset.plannedPoints) > 100, undefined, { timeout: 30_000 });
    const d = await lrChart();
    // 40 epochs of 750 steps: the plan reaches step 30,000 while the run has done a few hundred.
    assert.equal(d.plannedLast.split(':')[0], '30000');
    assert.equal(d.plannedFirst.split(':')[0], '1');
    assert.equal(d.plannedDash, 'true');
    assert.ok(Number(d.xMax) >= 30000, `the lr chart shows the plan to its end (x max ${d.xMax})`);
    const started = dash.received.find((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started')!;
    const config: RunConfig = { ...started.config, scheduleSteps: 30000 };
    assert.equal(Number(d.plannedLast.split(':')[1]), learningRateAt(config, 29999));
  });

  test('a schedule edit from the form is applied, marked on the curves, and the plan redraws from its step', async () => {
    await page.selectOption('#field-schedule', 'step');
    await page.fill('#field-stepSize', '5000');
    await page.fill('#field-gamma', '0.5');
    assert.equal(await page.isDisabled('#apply-schedule'), false);
    await page.click('#apply-schedule');
    await page.locator('#form-status', { hasText: 'Applied at step' }).waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLElement>('#chart-loss')?.dataset.markers ?? '').includes('schedule cosine → step'), undefined, { timeout: 5_000 });
    const applied = dash.received.find((m): m is Extract<ServerMessage, { type: 'applied' }> => m.type === 'applied')!;
    assert.deepEqual(applied.changes, { schedule: { from: 'cosine', to: 'step' }, stepSize: { from: 1000, to: 5000 }, gamma: { from: 0.1, to: 0.5 } });
    // The plan: cosine's warmup before the edit, then step decay from the edit's step: at 30,000 lr x 0.5^5 (after warmup).
    await page.waitForFunction(() => (document.querySelector<HTMLElement>('#chart-learningRate')?.dataset.plannedLast ?? '').startsWith('30000:'), undefined, { timeout: 10_000 });
    const started = dash.received.find((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started')!;
    const edited: RunConfig = { ...started.config, scheduleSteps: 30000, schedule: 'step', stepSize: 5000, gamma: 0.5 };
    await page.waitForFunction((y) => document.querySelector<HTMLElement>('#chart-learningRate')?.dataset.plannedLast === `30000:${y}`, learningRateAt(edited, 29999), { timeout: 10_000 });
    const plans = dash.received.filter((m): m is Extract<ServerMessage, { type: 'plan' }> => m.type === 'plan');
    assert.deepEqual(plans.map((p) => p.step), [1, applied.step]);
    mkdirSync(join(root, 'test-results'), { recursive: true });
    await page.locator('#chart-learningRate').screenshot({ path: join(root, 'test-results', 'schedule-plan.png') });
  });

  test('the page logged no errors', () => {
    assert.deepEqual(dash.pageErrors, []);
  });
});
