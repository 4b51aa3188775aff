// The extension's commands end to end with a stand-in for the VS Code API (the edge we do not own) and
// everything else real: settings are read and checked, the bundled command line is forked as the sidecar,
// a run trains on the sample data, the status bar follows it and the end is announced.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFakeVscode, fakeContext, installFakeVscode } from './fakeVscode';

const root = join(__dirname, '..', '..');
const settings: Record<string, unknown> = { dataPath: 'sample', epochs: 1, checkpointEveryNSteps: 100, workers: 1, beta1: 1.5 };
const fake = createFakeVscode(settings);
installFakeVscode(fake.vscode);
// Loaded after the fake is installed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const extension = require('../../extension/extension') as typeof import('../../extension/extension');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { STATUS_INTERVAL_MS } = require('../../extension/format') as typeof import('../../extension/format');

let storage: string;

async function until<T>(what: string, find: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = find();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; shown: ${JSON.stringify(fake.shown)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the extension with a stand-in VS Code', { timeout: 120_000 }, () => {
  before(() => {
    if (!existsSync(join(root, 'dist', 'cli.js'))) {
      assert.equal(spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' }).status, 0, 'the build failed');
    }
    storage = mkdtempSync(join(tmpdir(), 'adam-extension-'));
    extension.activate(fakeContext(root, storage) as never);
  });

  after(async () => {
    await extension.deactivate();
    rmSync(storage, { recursive: true, force: true });
  });

  test('activation registers every command of the manifest', () => {
    const manifest = require('../../extension/package.contributes.json') as { contributes: { commands: Array<{ command: string }> } };
    assert.deepEqual([...fake.commands.keys()].sort(), manifest.contributes.commands.map((c) => c.command).sort());
  });

  test('Train with Adam with beta1 1.5 in the settings says so, naming the setting, and starts nothing', async () => {
    await fake.vscode.commands.executeCommand('adamTrainer.train');
    const error = await until('an error', () => fake.shown.find((s) => s.kind === 'error'));
    assert.match(error.text, /adamTrainer\.beta1 must be in \[0, 1\), got 1\.5/);
    assert.deepEqual(error.items, ['Open Settings']);
    assert.equal(fake.panels.length, 0);
    assert.ok(!existsSync(join(storage, 'runs')) || readdirSync(join(storage, 'runs')).length === 0, 'no run was created');
  });

  test('Train with Adam starts a run on the settings, opens the dashboard and follows the run in the status bar', async () => {
    settings.beta1 = 0.9;
    settings.learningRate = 0.002;
    settings.epochs = 200; // trains through the next tests (an epoch of the sample is 750 steps), until the second Train with Adam stops it
    await fake.vscode.commands.executeCommand('adamTrainer.train');
    assert.equal(fake.panels.length, 1);
    assert.match(fake.panels[0].html, /script-src 'nonce-/);
    await until('the status bar', () => fake.statusBar.visible && /epoch \d+\/200 · loss \d/.test(fake.statusBar.text));
    const runs = readdirSync(join(storage, 'runs'));
    assert.equal(runs.length, 1);

    fake.fromWebview({ type: 'ready' });
    const hello = (await until('hello to the webview', () => fake.posted.find((m) => (m as { type: string }).type === 'hello'))) as { runs: Array<{ runId: string; config: { learningRate: number } }> };
    assert.equal(hello.runs[0].runId, runs[0]);
    assert.equal(hello.runs[0].config.learningRate, 0.002);
  });

  test('the Runs view lists the training run with its figures, live, and Pause applies (context key) while it trains', async () => {
    const view = fake.treeViews.get('adamTrainer.runs')!.treeDataProvider;
    const runId = readdirSync(join(storage, 'runs'))[0];
    const item = () => {
      const node = (view.getChildren() as Array<{ kind: string; run?: { runId: string } }>).find((n) => n.kind === 'run' && n.run!.runId === runId);
      return node ? view.getTreeItem(node) : undefined;
    };
    const first = await until('the run in the view, with a step', () => /^running · step [\d,]+( · test \d+\.\d%)?$/.test(item()?.description ?? '') && item()!.description!);
    assert.equal(item()!.label, 'Adam lr 0.002 · batch 4 · seed 0');
    assert.equal(item()!.contextValue, 'run.running');
    await until('the description to move on', () => item()!.description !== first && /^running · step/.test(item()!.description!) && item()!.description);
    assert.equal(fake.context.get('adamTrainer.running'), true);
    assert.equal(fake.context.get('adamTrainer.paused'), false);
    assert.match(String((fake.statusBar.tooltip as { value: string }).value), /step [\d,]+ · epoch \d+ of 200 · loss \d/);
    assert.match(String((fake.statusBar.tooltip as { value: string }).value), /\[Pause\]\(command:adamTrainer\.pause\)/);
    // The status bar follows the run every STATUS_INTERVAL_MS (5 s), not once a message (the live stream is about 19
    // messages a second, and in VS Code each write is a round trip to the workbench, which repaints): text and tooltip
    // at most once an interval each, plus one of each at the window's edges. (Once a message, it was 26 writes in 3 s.)
    const writes = fake.statusBar.writes;
    const text = fake.statusBar.text;
    const t0 = Date.now();
    await sleep(STATUS_INTERVAL_MS + 1500);
    const intervals = (Date.now() - t0) / STATUS_INTERVAL_MS;
    assert.notEqual(fake.statusBar.text, text, 'the status bar moved on');
    assert.ok(fake.statusBar.writes - writes <= 2 * (Math.ceil(intervals) + 1), `${fake.statusBar.writes - writes} writes to the status bar in ${(intervals * STATUS_INTERVAL_MS / 1000).toFixed(1)} s`);
  });

  test('a hidden Runs view is not redrawn while the run trains, and is redrawn once, up to date, when shown again', async () => {
    const record = fake.treeViews.get('adamTrainer.runs')!;
    const view = record.treeDataProvider;
    let redraws = 0;
    view.onDidChangeTreeData!(() => redraws++);
    const runId = readdirSync(join(storage, 'runs'))[0];
    const step = () => {
      const node = (view.getChildren() as Array<{ kind: string; run?: { runId: string } }>).find((n) => n.kind === 'run' && n.run!.runId === runId)!;
      return Number(/step ([\d,]+)/.exec(view.getTreeItem(node).description ?? '')![1].replace(/,/g, ''));
    };
    // Visible, the view follows the live steps (one redraw every 2 s).
    await until('a redraw while visible', () => redraws > 0, 5000);
    record.setVisible(false);
    const hiddenAt = redraws;
    const stepHidden = step();
    await sleep(4500);
    assert.equal(redraws, hiddenAt, 'no redraw while the view is hidden');
    assert.ok(step() > stepHidden, 'the run trained on meanwhile');
    record.setVisible(true);
    assert.equal(redraws, hiddenAt + 1, 'one redraw as the view is shown again');
  });

  test('Pause from the run\'s item in the Runs view pauses that run, and the keys then offer Resume, not Pause', async () => {
    const view = fake.treeViews.get('adamTrainer.runs')!.treeDataProvider;
    const node = (view.getChildren() as Array<{ kind: string; run?: { runId: string; state: string } }>).find((n) => n.kind === 'run' && n.run!.state === 'running')!;
    await fake.vscode.commands.executeCommand('adamTrainer.pause', node);
    await until('the run paused in the view', () => {
      const fresh = (view.getChildren() as Array<{ kind: string; run?: { runId: string } }>).find((n) => n.kind === 'run' && n.run!.runId === node.run!.runId)!;
      return view.getTreeItem(fresh).contextValue === 'run.paused';
    });
    await until('the context keys', () => fake.context.get('adamTrainer.paused') === true && fake.context.get('adamTrainer.running') === false);
    await fake.vscode.commands.executeCommand('adamTrainer.resume', node);
    await until('the context keys', () => fake.context.get('adamTrainer.running') === true && fake.context.get('adamTrainer.paused') === false);
    settings.epochs = 1; // the next run is trained to its end
  });

  test('a second Train with Adam asks whether to stop the running one, and "Stop it" does', async () => {
    const first = readdirSync(join(storage, 'runs'))[0];
    fake.answer(/A run is training/, 'Stop it');
    await fake.vscode.commands.executeCommand('adamTrainer.train');
    const question = fake.shown.find((s) => s.kind === 'warning')!;
    assert.deepEqual(question.items, ['Stop it', 'Run beside it']);
    await until('the first run stopped', () => fake.posted.some((m) => (m as { type: string; runId?: string; state?: string }).type === 'state' && (m as { runId: string }).runId === first && (m as { state: string }).state === 'stopped'));
    assert.equal(readdirSync(join(storage, 'runs')).length, 2);
  });

  test('the end of a run is announced with its test accuracy and a button to the dashboard', async () => {
    const done = await until('the end notification', () => fake.shown.find((s) => s.kind === 'info' && /finished/.test(s.text)), 60_000);
    assert.match(done.text, /^Run \S+ finished after [\d,]+ steps: test accuracy \d+\.\d%\.$/);
    assert.deepEqual(done.items, ['Open Dashboard']);
    assert.match(fake.statusBar.text, /Adam done · test \d+\.\d%/);
  });

  test('Compare Adam with SGD starts one run of each on the same settings, and the dashboard is told both', async () => {
    const before = new Set(readdirSync(join(storage, 'runs')));
    fake.answer(/A run is training/, 'Run beside it');
    await fake.vscode.commands.executeCommand('adamTrainer.compare');
    const started = fake.posted.filter((m) => (m as { type: string; requestId?: string }).type === 'started' && String((m as { requestId?: string }).requestId).startsWith('compare')) as Array<{ runId: string; config: { optimizer: string; learningRate: number; seed: number } }>;
    assert.deepEqual(started.map((m) => m.config.optimizer), ['adam', 'sgd']);
    assert.equal(started[0].config.learningRate, started[1].config.learningRate);
    assert.equal(started[0].config.seed, started[1].config.seed);
    assert.deepEqual(readdirSync(join(storage, 'runs')).filter((r) => !before.has(r)).sort(), started.map((m) => m.runId).sort());
  });

  test('Compare over Seeds asks how many seeds and which optimizers, and runs every pair in one group the dashboard is told', async () => {
    const before = new Set(readdirSync(join(storage, 'runs')));
    fake.input('2');
    fake.pick((labels) => labels.filter((l) => l === 'adam' || l === 'sgd'));
    await fake.vscode.commands.executeCommand('adamTrainer.compareOverSeeds');
    const [count, optimizers] = fake.asked.slice(-2);
    assert.equal(count.kind, 'input');
    assert.equal(count.value, '10');
    assert.deepEqual(optimizers.picked, ['adam', 'sgd'], 'Adam and SGD are picked to begin with');
    const comparing = (await until('comparing to the webview', () => fake.posted.find((m) => (m as { type: string }).type === 'comparing'))) as { group: { id: string; seeds: number[]; optimizers: string[] } };
    assert.deepEqual(comparing.group.seeds, [1, 2]);
    assert.deepEqual(comparing.group.optimizers, ['adam', 'sgd']);
    const inGroup = () => fake.posted.filter((m) => (m as { type: string; group?: { id: string } }).type === 'started' && (m as { group?: { id: string } }).group?.id === comparing.group.id) as Array<{ runId: string; config: { optimizer: string; seed: number; workers: number; learningRate: number } }>;
    await until('four runs started', () => inGroup().length === 4, 60_000);
    assert.deepEqual(inGroup().map((m) => `${m.config.optimizer} ${m.config.seed}`), ['adam 1', 'sgd 1', 'adam 2', 'sgd 2']);
    for (const m of inGroup()) assert.equal(m.config.workers, 1);
    for (const m of inGroup()) assert.equal(m.config.learningRate, 0.002, 'the settings apply to every run');
    assert.deepEqual(readdirSync(join(storage, 'runs')).filter((r) => !before.has(r)).sort(), inGroup().map((m) => m.runId).sort());
    assert.ok(fake.shown.some((s) => s.kind === 'info' && /comparing adam, sgd over 2 seeds \(4 runs\)/.test(s.text)));
  });

  test('Compare over Seeds cancelled at the first question starts nothing', async () => {
    const before = readdirSync(join(storage, 'runs')).length;
    fake.input(undefined);
    await fake.vscode.commands.executeCommand('adamTrainer.compareOverSeeds');
    assert.equal(readdirSync(join(storage, 'runs')).length, before);
  });
});
