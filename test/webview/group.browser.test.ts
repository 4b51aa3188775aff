// A comparison over seeds in the dashboard, in a real headless Chromium served by a real `adam-trainer serve`
// training the shipped sample: started from the page, drawn as each optimizer's mean curve with its band, the
// test accuracy of every seed and the verdict, live as the runs finish, and again after a reload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { ServerMessage } from '../../sidecar/protocol';
import { BrowserDashboard } from './browserDashboard';

const root = join(__dirname, '..', '..');
const dash = new BrowserDashboard();
let page: Page;
const { received, sent, pageErrors } = dash;

const groupData = () => page.locator('#chart-group').evaluate((el) => ({ ...(el as HTMLElement).dataset }));

describe('a comparison over seeds in the dashboard', { timeout: 120_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-group-' });
    page = dash.page;
  });

  after(() => dash.close());

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
    // The table counts finished runs from the run list; the curves follow when each run's history has arrived.
    await page.waitForFunction(() => {
      const d = document.querySelector<HTMLElement>('#chart-group')?.dataset;
      return d?.finished === '4' && (d.curves ?? '').split('|').every((c) => /^(adam|sgd):2:[1-9]\d*$/.test(c));
    }, undefined, { timeout: 20_000 });
    const d = await groupData();
    assert.equal(d.band, 'std');
    for (const c of d.curves!.split('|')) assert.match(c, /^(adam|sgd):2:[1-9]\d*$/);
  });

  test('ablations compare from the page like optimizers: each run trains its variant, drawn and tabled under its name', async () => {
    for (const o of ['adam', 'sgd']) await page.uncheck(`input[type=checkbox][data-optimizer="${o}"]`);
    for (const o of ['adam-no-bias-correction', 'sgd-nesterov']) await page.check(`input[type=checkbox][data-optimizer="${o}"]`);
    await page.fill('#field-maxSteps', '100');
    await page.fill('#group-seed-count', '1');
    await page.click('#group-start');
    const compare = sent.map((s) => JSON.parse(s)).filter((m) => m.type === 'compare').at(-1);
    assert.deepEqual(compare.optimizers, ['adam-no-bias-correction', 'sgd-nesterov']);
    await page.waitForFunction(() => {
      const d = document.querySelector<HTMLElement>('#chart-group')?.dataset;
      return d?.finished === '2' && d.curves?.startsWith('adam-no-bias-correction:1:');
    }, undefined, { timeout: 60_000 });
    const group = received.filter((m): m is Extract<ServerMessage, { type: 'comparing' }> => m.type === 'comparing').at(-1)!.group;
    const runs = received.filter((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started' && m.group?.id === group.id);
    assert.deepEqual(runs.map((r) => [r.config.optimizer, r.config.biasCorrection, r.config.nesterov]).sort(), [['adam', false, false], ['sgd', true, true]]);
    assert.match((await groupData()).curves!, /^adam-no-bias-correction:1:[1-9]\d*\|sgd-nesterov:1:[1-9]\d*$/);
    assert.match((await page.textContent('#group-status'))!, /adam-no-bias-correction vs sgd-nesterov over 1 seed: 2 of 2 runs finished/);
  });

  test('the page logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
