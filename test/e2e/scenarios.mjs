// The end-to-end scenarios: each one is what a user does in VS Code and what they see. A scenario gets a
// fresh code-server (own settings, global storage and logs) with the extension installed, and a page
// showing its workbench.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sidecarProcesses, sleep, waitFor } from './workbench.mjs';

/** Starts a run from the palette and waits for the dashboard to show it training; returns its id. */
async function trainFromPalette(t) {
  await t.wb.runCommand('Adam: Train with Adam');
  return waitForRunning(t);
}

async function waitForRunning(t) {
  const { wb } = t;
  await waitFor('the dashboard to open', async () => (await wb.webviewCount()) > 0);
  await waitFor('the dashboard to connect to the sidecar', async () => (await wb.dashboardText('#connection')) === 'connected');
  await waitFor('the dashboard to show a running run', async () => (await wb.dashboardText('#run-state')) === 'running', { timeoutMs: 30_000 });
  const runId = await wb.dashboardText('#run-name');
  assert.match(runId, /^\d{8}-\d{6}-[0-9a-f]+$/, 'the dashboard names the run');
  return runId;
}

async function lossPoints(t, atLeast) {
  return waitFor(`the loss curve to have ${atLeast} points`, async () => {
    const c = await t.wb.chart('loss');
    return Number(c.points) >= atLeast ? c : undefined;
  }, { timeoutMs: 30_000 });
}

/** The run's events as the sidecar wrote them (events.jsonl: metrics, eval, applied and state messages). */
function events(t, runId) {
  const file = join(t.cs.globalStorage(), 'runs', runId, 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    try { return JSON.parse(l); } catch { return { type: 'unparsable', line: l }; }
  });
}

async function stopFromPalette(t) {
  await t.wb.runCommand('Adam: Stop Training');
  await waitFor('the run to stop', async () => (await t.wb.dashboardText('#run-state')) === 'stopped');
}

export const scenarios = [
  {
    name: 'train',
    title: 'Train with Adam from the palette: the dashboard opens, the loss curve grows, the status bar shows epoch and samples/s',
    settings: { 'adamTrainer.epochs': 20 },
    async run(t) {
      const { wb } = t;
      const runId = await trainFromPalette(t);
      const first = await lossPoints(t, 3);
      const status = await waitFor('the status bar to show the epoch and samples/s', async () => {
        const s = await wb.statusText();
        return /epoch \d+\/20/.test(s) && /[\d,]+ samples\/s/.test(s) ? s : undefined;
      });
      t.log(`status bar: ${status}`);
      const later = await waitFor('the loss curve to grow', async () => {
        const c = await wb.chart('loss');
        return Number(c.points) > Number(first.points) + 5 && Number(c.lastX) > Number(first.lastX) ? c : undefined;
      });
      t.log(`loss curve: ${first.points} points (step ${first.lastX}) -> ${later.points} points (step ${later.lastX}), last loss ${Number(later.lastY).toFixed(3)}`);
      assert.ok(Number.isFinite(Number(later.lastY)) && Number(later.lastY) > 0, 'the loss is a positive number');
      const stats = await wb.dashboardText('#run-stats');
      assert.match(stats, /epoch \d+ of 20/, 'the dashboard shows the epoch');
      assert.match(stats, /[\d,]+ samples\/s/, 'the dashboard shows samples/s');
      await t.shot('live');
      // The run ends on its own: the status bar and the run list say so, with the test accuracy.
      const done = await waitFor('the run to finish', async () => {
        const s = await wb.statusText();
        return /\bdone\b/.test(s) && /test \d+\.\d%/.test(s) ? s : undefined;
      }, { timeoutMs: 90_000, intervalMs: 500 });
      t.log(`status bar at the end: ${done}`);
      assert.equal(await wb.dashboardText('#run-state'), 'done');
      const item = wb.dashboard.locator('#runs-list li', { hasText: runId });
      assert.match((await item.textContent()) ?? '', /done/);
      await waitFor('one test accuracy point per epoch', async () => Number((await wb.chart('testAccuracy')).points) === 20);
      // VS Code looks for new listening ports every few seconds in a remote window, and forwards them: the sidecar,
      // on a Unix domain socket, gives it none (extension/sidecar.ts).
      const ports = await wb.forwardedPorts();
      t.log(`ports in the status bar: ${ports}`);
      assert.equal(ports, 'No Ports Forwarded', 'VS Code found no port of the sidecar to forward');
      assert.ok(!(await wb.notifications()).some((n) => /is available|forwarded/i.test(n)), 'no port notification');
      await t.shot('done');
    },
  },

  {
    name: 'learning-rate',
    title: 'Change the learning rate in the dashboard: a marker appears on the curves and the metrics report the new lr',
    settings: { 'adamTrainer.epochs': 1000 },
    async run(t) {
      const { wb } = t;
      const runId = await trainFromPalette(t);
      await lossPoints(t, 5);
      assert.equal((await wb.chart('loss')).markers ?? '', '', 'no marker before the change');
      const field = wb.dashboard.locator('#field-learningRate');
      await field.fill('0.003');
      await wb.dashboard.locator('#apply').click();
      const status = await waitFor('the form to say the change was applied', async () => {
        const s = await wb.dashboardText('#form-status');
        return /^Applied at step/.test(s) ? s : undefined;
      });
      t.log(`form: ${status}`);
      assert.match(status, /lr 0\.001 → 0\.003/);
      const appliedStep = Number(/step ([\d,]+)/.exec(status)[1].replace(/,/g, ''));
      const markers = await waitFor('a marker on the loss curve', async () => (await wb.chart('loss')).markers);
      assert.match(markers, new RegExp(`^${appliedStep}:lr 0\\.001 → 0\\.003`), 'the marker sits at the step of the change');
      const lr = await waitFor('the learning-rate curve to reach 0.003', async () => {
        const c = await wb.chart('learningRate');
        return Number(c.lastY) === 0.003 && Number(c.lastX) > appliedStep ? c : undefined;
      });
      t.log(`learning-rate curve: last point step ${lr.lastX}, lr ${lr.lastY}`);
      await waitFor('the header to show lr 0.003', async () => /lr 0\.003/.test(await wb.dashboardText('#run-stats')));
      // What the sidecar itself reported, as it stored it: the metrics after the change carry the new lr.
      const metrics = await waitFor('metrics after the change in events.jsonl', () => {
        const m = events(t, runId).filter((e) => e.type === 'metrics');
        return m.some((e) => e.step > appliedStep) ? m : undefined;
      });
      // (A report at exactly the step of the change may go either way.)
      const before = metrics.filter((e) => e.step < appliedStep);
      const after = metrics.filter((e) => e.step > appliedStep);
      assert.ok(before.length > 0 && before.every((e) => e.learningRate === 0.001), 'metrics before the change report lr 0.001');
      assert.ok(after.every((e) => e.learningRate === 0.003), `metrics after the change report lr 0.003 (got ${[...new Set(after.map((e) => e.learningRate))]})`);
      const applied = events(t, runId).filter((e) => e.type === 'applied');
      assert.deepEqual(applied.map((a) => [a.step, a.changes.learningRate]), [[appliedStep, { from: 0.001, to: 0.003 }]]);
      await t.shot('marker');
      // The panel hidden behind an editor: the extension then asks the sidecar only for what the status bar and the
      // Runs view show (extension/relay.ts, the `status` level). The status bar goes on with the run, and the
      // dashboard shown again has what it missed meanwhile, the marker too.
      const hiddenAt = Number((await wb.chart('loss')).lastX);
      await wb.runCommand('File: New Untitled Text File');
      await waitFor('the dashboard\'s page to go with its hidden panel', async () => (await wb.webviewCount()) === 0 || !(await wb.page.locator('iframe.webview').first().isVisible()));
      const shown = await wb.statusText();
      const later = await waitFor('the status bar to go on while the panel is hidden', async () => {
        const s = await wb.statusText();
        return s !== shown ? s : undefined;
      }, { timeoutMs: 20_000 });
      t.log(`status bar while hidden: ${shown} -> ${later}`);
      await wb.runCommand('Adam: Open Dashboard');
      const back = await waitFor('the loss curve shown again past the step where it was hidden', async () => {
        const c = await wb.chart('loss').catch(() => undefined);
        return c && Number(c.lastX) > hiddenAt && /lr 0\.001 → 0\.003/.test(c.markers ?? '') ? c : undefined;
      });
      t.log(`loss curve hidden at step ${hiddenAt}, shown again at step ${back.lastX} with ${back.points} points`);
      await stopFromPalette(t);
    },
  },

  {
    name: 'pause-resume-stop',
    title: 'Pause and resume from the palette, then stop: the run appears in the run list',
    settings: { 'adamTrainer.epochs': 1000 },
    async run(t) {
      const { wb } = t;
      const runId = await trainFromPalette(t);
      await lossPoints(t, 3);
      await wb.runCommand('Adam: Pause Training');
      await waitFor('the dashboard to show the run paused', async () => (await wb.dashboardText('#run-state')) === 'paused');
      await waitFor('the status bar to say paused', async () => /paused/.test(await wb.statusText()));
      const pausedAt = await wb.shownStep();
      await sleep(2000);
      assert.equal(await wb.shownStep(), pausedAt, 'the step does not move while paused');
      t.log(`paused at step ${pausedAt}; status bar: ${await wb.statusText()}`);
      await t.shot('paused');
      await wb.runCommand('Adam: Resume Training');
      await waitFor('the dashboard to show the run running', async () => (await wb.dashboardText('#run-state')) === 'running');
      await waitFor('the steps to move on after resuming', async () => (await wb.shownStep()) > pausedAt);
      await stopFromPalette(t);
      await waitFor('the status bar to say stopped', async () => /stopped/.test(await wb.statusText()));
      const item = wb.dashboard.locator('#runs-list li', { hasText: runId });
      await waitFor('the run in the run list, stopped', async () => /stopped/.test((await item.textContent({ timeout: 2000 })) ?? ''));
      t.log(`run list: ${await item.evaluate((e) => e.innerText.replace(/\s+/g, ' ').trim())}`);
      // Each command found the run it was meant for ("no run to pause" would mean something else acted first).
      assert.deepEqual((await wb.notifications()).filter((n) => /no run to/.test(n)), []);
      await t.shot('stopped');
    },
  },

  {
    name: 'invalid-setting',
    title: 'adamTrainer.beta1 = 1.5 in settings.json: a clear error naming the setting, no run starts',
    settings: { 'adamTrainer.beta1': 1.5 },
    async run(t) {
      const { wb } = t;
      await wb.runCommand('Adam: Train with Adam');
      const message = await waitFor('an error notification', async () => (await wb.notifications()).find((n) => /adamTrainer\.beta1/.test(n)));
      t.log(`notification: ${message}`);
      assert.match(message, /adamTrainer\.beta1 must be in \[0, 1\), got 1\.5/);
      assert.match(message, /No run was started/);
      await t.shot('error');
      await sleep(2000); // time for anything wrongly started to show
      assert.equal(await wb.webviewCount(), 0, 'no dashboard opened');
      assert.equal(await wb.statusText(), '', 'no run on the status bar');
      const runs = join(t.cs.globalStorage(), 'runs');
      assert.deepEqual(existsSync(runs) ? readdirSync(runs) : [], [], 'no run folder was created');
    },
  },

  {
    name: 'sidecar-crash',
    title: 'Kill the sidecar mid-run: the extension restarts it and the run resumes from its checkpoint',
    settings: { 'adamTrainer.epochs': 1000, 'adamTrainer.checkpointEveryNSteps': 300 },
    async run(t) {
      const { wb } = t;
      const runId = await trainFromPalette(t);
      await lossPoints(t, 10);
      const [sidecar] = await waitFor('the sidecar in the process table', () => {
        const p = sidecarProcesses(t.marker);
        return p.length === 1 ? p : undefined;
      });
      await waitFor('a checkpoint on disk', () => existsSync(join(t.cs.globalStorage(), 'runs', runId, 'latest.ckpt')));
      const stepAtKill = await wb.shownStep();
      process.kill(sidecar.pid, 'SIGKILL');
      t.log(`killed the sidecar (pid ${sidecar.pid}) at step ${stepAtKill}`);
      const [restarted] = await waitFor('a new sidecar process', () => {
        const p = sidecarProcesses(t.marker).filter((x) => x.pid !== sidecar.pid);
        return p.length ? p : undefined;
      }, { timeoutMs: 20_000 });
      t.log(`new sidecar pid ${restarted.pid}`);
      await waitFor('the dashboard to reconnect', async () => (await wb.dashboardText('#connection')) === 'connected', { timeoutMs: 20_000 });
      await waitFor('the same run to be training again', async () => (await wb.dashboardText('#run-name')) === runId && (await wb.dashboardText('#run-state')) === 'running', { timeoutMs: 20_000 });
      await waitFor('the run to get past the step where it was killed', async () => (await wb.shownStep()) > stepAtKill + 300, { timeoutMs: 30_000 });
      // The sidecar's own record (events.jsonl): the run went back to running at a checkpoint step (every
      // 300 steps, and each epoch's end at 750, 1500, ...), not 0, and lost at most one checkpoint interval. Exactly
      // one when the kill lands while the checkpoint of the step last reported is being written (its record comes
      // first): that checkpoint is not there yet, and the one before it is the newest.
      const record = events(t, runId);
      const resumed = record.findIndex((e) => e.type === 'state' && e.state === 'running' && e.step > 0);
      assert.ok(resumed > 0, 'events.jsonl records the run running again after the kill');
      const resumedFrom = record[resumed].step;
      const reached = Math.max(...record.slice(0, resumed).filter((e) => e.type === 'metrics').map((e) => e.step));
      t.log(`the sidecar had reported step ${reached} before the kill; the run resumed from step ${resumedFrom}`);
      assert.ok(resumedFrom % 300 === 0 || resumedFrom % 750 === 0, `resumed from a checkpoint step (a multiple of 300 or an epoch end), got ${resumedFrom}`);
      assert.ok(resumedFrom >= reached - 300, `resumed from the newest checkpoint (step ${resumedFrom}, the run had reached ${reached})`);
      const log = t.cs.outputChannel();
      assert.match(log, /sidecar exited unexpectedly \(SIGKILL\)/, 'the output channel says the sidecar died');
      assert.match(log, new RegExp(`resuming ${runId} from its latest checkpoint`), 'the output channel says the run resumes');
      await waitFor('the status bar to show the run', async () => /epoch \d+\/1000/.test(await wb.statusText()));
      await t.shot('resumed');
      await stopFromPalette(t);
    },
  },

  {
    name: 'close-window',
    title: 'Close the window: no sidecar process is left',
    settings: { 'adamTrainer.epochs': 1000 },
    async run(t) {
      const { wb, cs } = t;
      const runId = await trainFromPalette(t);
      await lossPoints(t, 3);
      const before = sidecarProcesses(t.marker);
      assert.equal(before.length, 1, 'one sidecar while training');
      const stepShown = await wb.shownStep();
      await t.shot('before-close');
      await wb.page.close();
      // code-server keeps the extension host for a reconnecting window; ending the server is what ends a
      // VS Code window's extension host. Only the main process gets SIGTERM: killing the group would also
      // kill a leaked sidecar and hide the leak.
      await cs.terminateMain();
      t.log(`code-server (pid ${cs.pid}) exited: ${JSON.stringify(await cs.exited)}`);
      const left = await waitFor('the sidecar to exit', () => {
        const p = sidecarProcesses(t.marker);
        return p.length === 0 ? [] : undefined;
      }, { timeoutMs: 15_000 }).catch((e) => {
        const p = sidecarProcesses(t.marker);
        throw new Error(`${e.message}; still running: ${p.map((x) => `${x.pid} ${x.args}`).join('; ')}`);
      });
      assert.deepEqual(left, []);
      // It checkpointed on the way out (latest.ckpt, or a step-<N>.ckpt, at least at the step the window last
      // showed), so nothing shown is lost and the run can be resumed.
      const runDir = join(cs.globalStorage(), 'runs', runId);
      const steps = readdirSync(runDir).map((f) => /^step-(\d+)\.ckpt$/.exec(f)?.[1]).filter(Boolean).map(Number);
      if (existsSync(join(runDir, 'latest.ckpt'))) steps.push(checkpointStep(join(runDir, 'latest.ckpt')));
      t.log(`checkpoints: steps ${steps.sort((a, b) => a - b).join(', ')}; the window showed step ${stepShown}`);
      assert.ok(steps.some((n) => n >= stepShown), `a checkpoint at or after step ${stepShown}`);
    },
  },

  {
    name: 'compare',
    title: 'Compare Adam with SGD: two curves overlaid',
    // 20 epochs: the loss curve gets a point every 200 ms (LIVE_METRICS_INTERVAL_MS), and 5 epochs of the sample took
    // under 2 s on a fast host, nine points where the scenario waits for ten (CI, 2026-12-06).
    settings: { 'adamTrainer.epochs': 20 },
    async run(t) {
      const { wb } = t;
      await wb.runCommand('Adam: Compare Adam with SGD');
      await waitFor('the dashboard to open', async () => (await wb.webviewCount()) > 0);
      const legend = wb.dashboard.locator('#legend .legend-item');
      const items = await waitFor('two runs in the legend', async () => {
        const texts = await legend.allTextContents();
        return texts.length === 2 ? texts : undefined;
      }, { timeoutMs: 30_000 });
      t.log(`legend: ${items.join(' | ')}`);
      assert.ok(items.some((s) => /\(adam\)/.test(s)) && items.some((s) => /\(sgd\)/.test(s)), 'an Adam and an SGD run are overlaid');
      const adamRun = /^(\S+) \(adam\)/.exec(items.find((s) => /\(adam\)/.test(s)))[1];
      assert.equal(await wb.dashboardText('#run-name'), adamRun, 'the Adam run is the open one, SGD overlaid on it');
      await lossPoints(t, 10);
      const rows = wb.dashboard.locator('#runs-list li');
      await waitFor('both runs in the run list', async () => (await rows.count()) === 2);
      const overlay = await rows.locator('input[type=checkbox]').evaluateAll((els) => els.map((e) => ({ checked: e.checked, disabled: e.disabled })));
      assert.equal(overlay.filter((o) => o.checked).length, 1, 'the other run is overlaid on the open one');
      await waitFor('both runs to finish', async () => {
        const badges = await rows.locator('.badge').allTextContents();
        return badges.length === 2 && badges.every((b) => b.trim() === 'done');
      }, { timeoutMs: 90_000, intervalMs: 500 });
      const details = await rows.evaluateAll((els) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
      t.log(`runs: ${details.join(' | ')}`);
      assert.ok(details.every((d) => /test \d+\.\d%/.test(d)), 'both runs show their test accuracy');
      await t.shot('overlay');
    },
  },

  {
    name: 'runs-view',
    title: 'The Runs view: empty with a Train button, lists the run while it trains and updates it, an inline action pauses it; Pause only in the palette while a run trains',
    settings: { 'adamTrainer.epochs': 1000 },
    async run(t) {
      const { wb } = t;
      // Activation is cheap: the extension says how long activate() took, and has started no process.
      const activation = await waitFor('the activation line in the output channel', () => /activated in ([\d.]+) ms/.exec(t.cs.outputChannel()));
      const activationMs = Number(activation[1]);
      t.log(`activation: ${activationMs} ms`);
      assert.ok(activationMs < 50, `activate() took ${activationMs} ms, over 50 ms`);
      assert.deepEqual(sidecarProcesses(t.marker), [], 'activation starts no sidecar');
      const noRun = await wb.paletteRows('Adam: ');
      assert.ok(noRun.some((r) => r.startsWith('Adam: Train with Adam')), `the palette offers Train (${noRun.join(' | ')})`);
      assert.ok(!noRun.some((r) => /^Adam: (Pause|Resume|Stop) Training/.test(r)), `no Pause, Resume or Stop in the palette with nothing running (${noRun.join(' | ')})`);

      const pane = await wb.openRunsView();
      const welcome = pane.locator('.welcome-view-content');
      await waitFor('the welcome content', async () => /No runs yet/.test((await welcome.textContent({ timeout: 2000 })) ?? ''));
      await t.shot('welcome');
      await welcome.locator('a.monaco-button, .monaco-button', { hasText: 'Train with Adam' }).first().click();
      const runId = await waitForRunning(t);
      const row = await waitFor('the run in the Runs view, running at some step', async () => (await wb.runsViewRows()).find((r) => /^running · step [\d,]+/.test(r.description)));
      t.log(`Runs view: ${row.label} — ${row.description}`);
      assert.equal(row.label, 'Adam lr 0.001 · batch 4 · seed 0');
      const step = (d) => Number(/step ([\d,]+)/.exec(d)?.[1].replace(/,/g, '') ?? -1);
      const later = await waitFor('the description to move on', async () => (await wb.runsViewRows()).find((r) => r.label === row.label && step(r.description) > step(row.description)));
      t.log(`Runs view later: ${later.description}`);
      const withRun = await wb.paletteRows('Adam: Pause');
      assert.ok(withRun.some((r) => r.startsWith('Adam: Pause Training')), 'Pause is in the palette while the run trains');
      await t.shot('live');

      // The row's inline Pause button (shown on hover).
      const item = wb.page.locator('.part.sidebar .pane-body .monaco-list-row', { hasText: 'Adam lr 0.001' }).first();
      await item.hover();
      await item.locator('.actions .action-label[aria-label^="Pause Training"]').click({ timeout: 5000 });
      await waitFor('the Runs view to show the run paused', async () => (await wb.runsViewRows()).some((r) => /^paused/.test(r.description)));
      await waitFor('the dashboard to show the run paused', async () => (await wb.dashboardText('#run-state')) === 'paused');
      await waitFor('the status bar to say paused', async () => /paused/.test(await wb.statusText()));
      const paused = await wb.paletteRows('Adam: ');
      assert.ok(paused.some((r) => r.startsWith('Adam: Resume Training')) && !paused.some((r) => r.startsWith('Adam: Pause Training')), `paused: Resume, not Pause, in the palette (${paused.join(' | ')})`);
      await item.hover();
      await t.shot('paused');
      const events = readFileSync(join(t.cs.globalStorage(), 'runs', runId, 'events.jsonl'), 'utf8');
      assert.match(events, /"state":"paused"/, 'the sidecar recorded the pause');
      await stopFromPalette(t);
    },
  },

  {
    name: 'gallery',
    title: 'What the network learned: the gallery of test images with the top-3 classes, a confusion-matrix cell, and "Adam: Classify Image" from the Explorer (an image of mine, a file that is not one)',
    settings: { 'adamTrainer.epochs': 1000 },
    async run(t) {
      const { wb } = t;
      // Files in the workspace for the Explorer: a picture (WebP, 480x320, made for this test), a PNG that is not
      // one, and a text file (no Classify Image in its menu).
      writeFileSync(join(t.cs.workspace, 'my-ship.webp'), readFileSync(join(import.meta.dirname, '..', 'fixtures', 'predict', 'my-ship.webp')));
      writeFileSync(join(t.cs.workspace, 'notes.png'), 'not a picture\n');
      writeFileSync(join(t.cs.workspace, 'readme.txt'), 'hello\n');
      await trainFromPalette(t);
      await waitFor('an evaluation in the confusion matrix', async () => (await wb.dashboard.locator('#confusion td.clickable').count()) > 0, { timeoutMs: 60_000 });
      await wb.dashboard.locator('#gallery > summary').click();
      await waitFor('the gallery to show test images', async () => (await wb.dashboard.locator('#gallery-grid figure').count()) === 48, { timeoutMs: 30_000 });
      const caption = await wb.dashboardText('#gallery-caption');
      t.log(`gallery: ${caption}`);
      assert.match(caption, /current weights\): 1,000 of 1,000 test images match/);
      assert.equal(await wb.dashboard.locator('#gallery-grid figure').first().locator('ol.top3 li').count(), 3);
      await wb.dashboard.locator('#gallery').scrollIntoViewIfNeeded();
      await t.shot('gallery');
      await wb.dashboard.locator('#confusion td.clickable:not(.diag)').first().click();
      const trueClass = await wb.dashboard.locator('#gallery-true').inputValue();
      const predicted = await wb.dashboard.locator('#gallery-predicted').inputValue();
      assert.ok(trueClass !== '' && predicted !== '' && trueClass !== predicted, 'the cell set both class filters');
      await waitFor('the cell\'s images', async () => /test images match/.test(await wb.dashboardText('#gallery-caption')) && (await wb.dashboard.locator('#gallery-grid figure.right').count()) === 0);
      t.log(`confusion cell ${trueClass} -> ${predicted}: ${await wb.dashboardText('#gallery-caption')}`);

      // The Explorer's context menu on my own picture.
      await wb.page.locator('.part.activitybar .action-item a[aria-label^="Explorer"], .part.activitybar .action-item .action-label[aria-label^="Explorer"]').first().click();
      const row = (name) => wb.page.locator(`.explorer-folders-view .monaco-list-row[aria-label^="${name}"]`).first();
      const menu = wb.page.locator('.context-view .monaco-menu');
      const menuItem = menu.locator('.action-item .action-label', { hasText: 'Classify Image' });
      // The context menu sometimes takes a click before it is ready for one and stays open, its item highlighted (a
      // CI run at 21:32 on 2026-12-01 saw that on every try for 30 s): then Enter chooses the highlighted item, as a
      // keyboard user would. Tried again from the start if even that leaves the menu open.
      const classifyFromExplorer = (name) => waitFor(`Classify Image on ${name} from the Explorer`, async () => {
        await wb.page.keyboard.press('Escape');
        await row(name).click({ button: 'right' });
        const item = menuItem.first();
        await item.hover({ timeout: 5000 });
        await item.click({ timeout: 5000 });
        const closed = () => menu.waitFor({ state: 'hidden', timeout: 1500 }).then(() => true, () => false);
        if (!(await closed())) {
          await wb.page.keyboard.press('Enter');
          if (!(await closed())) throw new Error('the context menu stayed open after a click and Enter on Classify Image');
        }
        return true;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      await row('readme.txt').waitFor({ timeout: 20_000 });
      await row('readme.txt').click({ button: 'right' });
      await wb.page.locator('.context-view .monaco-menu').waitFor({ timeout: 5000 });
      assert.equal(await menuItem.count(), 0, 'no Classify Image on a .txt file');
      await wb.page.keyboard.press('Escape');
      await classifyFromExplorer('my-ship.webp');
      const toast = await waitFor('the notification with the top-3', async () => (await wb.notifications()).find((n) => /my-ship\.webp: \w+ [\d.]+%/.test(n)), { timeoutMs: 30_000 });
      t.log(`notification: ${toast}`);
      await waitFor('the dashboard to show the classified image', async () => (await wb.dashboardText('#classified-caption')).includes('my-ship.webp (480x320)'), { timeoutMs: 20_000 });
      assert.match(await wb.dashboardText('#classified-note'), /transforms\.Resize\(\(32, 32\)\), PIL's bilinear filter/);
      assert.equal(await wb.dashboard.locator('#conv2-maps canvas').count(), 16);
      assert.match((await wb.dashboard.locator('#classified img.original').getAttribute('src')) ?? '', /^data:image\/webp;base64,/, 'my picture is shown as given, beside its 32x32');
      await wb.dashboard.locator('#classified').scrollIntoViewIfNeeded();
      await t.shot('classified');
      await classifyFromExplorer('notes.png');
      const refused = await waitFor('the error for a file that is not an image', async () => (await wb.notifications()).find((n) => /could not classify notes\.png/.test(n)), { timeoutMs: 20_000 });
      t.log(`notification: ${refused}`);
      assert.match(refused, /notes\.png is not a PNG, JPEG or WebP image/);
      await t.shot('refused');
      await stopFromPalette(t);
    },
  },

  {
    name: 'walkthrough',
    title: 'The walkthrough opens from the Runs view\'s welcome content, with its four steps',
    async run(t) {
      const { wb } = t;
      const pane = await wb.openRunsView();
      const welcome = pane.locator('.welcome-view-content');
      await welcome.locator('a', { hasText: 'Open the walkthrough' }).first().click({ timeout: 10_000 });
      const page = wb.page.locator('.gettingStartedContainer');
      await waitFor('the walkthrough page', async () => /Train the seed's experiment/.test((await page.textContent({ timeout: 2000 })) ?? ''));
      const text = (await page.textContent()) ?? '';
      for (const step of ['Train the seed\'s experiment', 'Change the learning rate mid-run', 'Compare Adam with SGD', 'Read the trust region']) {
        assert.ok(text.includes(step), `the walkthrough has the step "${step}"`);
      }
      await sleep(1000);
      await t.shot('open');
    },
  },
];

/** The step a checkpoint holds, from its JSON header (after 'ADAMCKPT', the format version and the header length). */
function checkpointStep(file) {
  const b = readFileSync(file);
  assert.equal(b.subarray(0, 8).toString('latin1'), 'ADAMCKPT', `${file} is a checkpoint`);
  return JSON.parse(b.subarray(16, 16 + b.readUInt32LE(12)).toString('utf8')).step;
}
