// A dashboard tab left in the background lets go of its runs' live messages after HIDDEN_RELEASE_MS, and shown
// again it subscribes anew and is brought up to date by the histories. Real serve, real Chromium, a run training on
// the shipped sample. Headless Chromium never hides a tab, so hiding is emulated the way the page reads it:
// `document.hidden` and a `visibilitychange` event.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import type { ServerMessage } from '../../sidecar/protocol';
import { HIDDEN_RELEASE_MS } from '../../webview/drawScheduler';
import { BrowserDashboard } from './browserDashboard';

const dash = new BrowserDashboard();
let page: Page;
const { received, sent, pageErrors } = dash;
const sentOf = (type: string) => sent.map((s) => JSON.parse(s) as { type: string; runId?: string }).filter((m) => m.type === type);
const lastX = async () => Number(await page.locator('#chart-loss').evaluate((el) => (el as HTMLElement).dataset.lastX));

function setHidden(hidden: boolean): Promise<void> {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, value: h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, value: h ? 'hidden' : 'visible' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** Starts a run from the form, hides the page and waits until it has let go of the run (and of that run only). */
async function startAndRelease(): Promise<string> {
  const startedBefore = received.filter((m) => m.type === 'started').length;
  await dash.startSampleRun();
  const runId = received.filter((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started')[startedBefore]!.runId;
  const unsubscribesBefore = sentOf('unsubscribe').length;
  await setHidden(true);
  for (const end = Date.now() + HIDDEN_RELEASE_MS + 5000; sentOf('unsubscribe').length === unsubscribesBefore && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sentOf('unsubscribe').slice(unsubscribesBefore).map((m) => m.runId), [runId]);
  return runId;
}

/** Stops a run through a socket of its own (as a script or the extension would) and waits until it has stopped. */
async function stopFromAnotherClient(runId: string): Promise<void> {
  const other = new WebSocket(dash.url.replace(/^http/, 'ws'));
  const ended = new Promise<void>((resolve, reject) => {
    other.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      if (m.type === 'state' && m.runId === runId && m.state === 'stopped') resolve();
      if (m.type === 'error') reject(new Error(m.message));
    });
    other.on('error', reject);
  });
  await new Promise((resolve, reject) => other.once('open', resolve).once('error', reject));
  other.send(JSON.stringify({ type: 'subscribe', runId }));
  other.send(JSON.stringify({ type: 'stop', runId }));
  await ended;
  other.close();
}

describe('a dashboard in a background tab', { timeout: 180_000 }, () => {
  before(async () => {
    await dash.open({ prefix: 'adam-hidden-' });
    page = dash.page;
  });
  after(() => dash.close());

  test('hidden, it unsubscribes after the delay and gets no metrics; shown, it subscribes and draws the run as it is now', async () => {
    await dash.startSampleRun();
    const runId = received.find((m): m is Extract<ServerMessage, { type: 'started' }> => m.type === 'started')!.runId;

    // Hidden, then shown again before the delay: nothing is let go.
    await setHidden(true);
    await new Promise((r) => setTimeout(r, HIDDEN_RELEASE_MS / 2));
    await setHidden(false);
    await new Promise((r) => setTimeout(r, HIDDEN_RELEASE_MS));
    assert.deepEqual(sentOf('unsubscribe'), [], 'a short switch to another tab keeps the subscription');

    const hiddenAt = Date.now();
    await setHidden(true);
    for (const end = Date.now() + HIDDEN_RELEASE_MS + 5000; sentOf('unsubscribe').length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sentOf('unsubscribe').map((m) => m.runId), [runId]);
    assert.ok(Date.now() - hiddenAt >= HIDDEN_RELEASE_MS - 100, 'not before the delay');
    await new Promise((r) => setTimeout(r, 300)); // what was in flight when the sidecar got the unsubscribe
    const quietFrom = received.length;
    const stepThen = await lastX();
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(received.slice(quietFrom).filter((m) => m.type === 'metrics' && m.runId === runId), [], 'no metrics while let go');

    const subscribesBefore = sentOf('subscribe').length;
    await setHidden(false);
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.lastX) > n, stepThen, { timeout: 15_000 });
    assert.deepEqual(sentOf('subscribe').slice(subscribesBefore).map((m) => m.runId), [runId], 'shown: subscribed again');
    // The page drew it; the frame's report reaches this process on its own.
    for (const end = Date.now() + 5000; !received.slice(quietFrom).some((m) => m.type === 'history' && m.runId === runId) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    assert.ok(received.slice(quietFrom).some((m) => m.type === 'history' && m.runId === runId), 'brought up to date by the history');
    const after = await lastX();
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#chart-loss')?.dataset.lastX) > n, after, { timeout: 15_000 });
    await page.click('#stop');
    await page.locator('#run-state', { hasText: 'stopped' }).waitFor({ timeout: 15_000 });
  });

  test('a run that ends while the page has let go of it gets its notice when the page is shown again', async () => {
    const runId = await startAndRelease();
    const releasedAt = received.length;

    // Another client (a script, the extension) stops the run while the tab is in the background.
    await stopFromAnotherClient(runId);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!received.slice(releasedAt).some((m) => m.type === 'state' && m.runId === runId), 'the page heard nothing of the run ending');
    // The page's run list refresh (every 15 s) may have told it already; otherwise the history does when it is shown.
    const listed = received.slice(releasedAt).some((m) => m.type === 'runs' && m.runs.some((r) => r.runId === runId && r.state === 'stopped'));
    if (!listed) assert.doesNotMatch(await page.locator('#notices').innerText(), new RegExp(`${runId} stopped`));

    await setHidden(false);
    await page.locator('#notices', { hasText: `${runId} stopped` }).waitFor({ timeout: 15_000 });
    await page.locator('#run-state', { hasText: 'stopped' }).waitFor({ timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await page.locator('#notices li').allInnerTexts()).filter((t) => t.includes(`${runId} stopped`)).length, 1, 'announced once');
  });

  test('a run that ends while the page has let go of it is announced by the run list\'s refresh, and once only', async () => {
    const runId = await startAndRelease();
    await stopFromAnotherClient(runId);
    const stoppedAt = received.length;
    // Still hidden: the refresh (every 15 s) lists the run as stopped, and the page says so.
    await page.locator('#notices', { hasText: `${runId} stopped` }).waitFor({ timeout: 20_000 });
    assert.ok(received.slice(stoppedAt).some((m) => m.type === 'runs'), 'told by the run list');
    assert.ok(!received.slice(stoppedAt).some((m) => m.type === 'history' && m.runId === runId), 'before any history');
    await setHidden(false);
    for (const end = Date.now() + 5000; !received.slice(stoppedAt).some((m) => m.type === 'history' && m.runId === runId) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await page.locator('#notices li').allInnerTexts()).filter((t) => t.includes(`${runId} stopped`)).length, 1, 'the history does not announce it again');
  });

  test('the page logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
