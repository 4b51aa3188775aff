// The "Adam: …" commands. Each reads what it needs (settings, a run, a file), asks the sidecar through the
// controller, and says what happened; errors a user can meet are messages, never exceptions.
import { fork } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { COMPARED_OPTIMIZERS, LIVE_STATES, MAX_COMPARE_SEEDS, type ComparedOptimizer, type RunSummary, type StartConfig } from '../sidecar/protocol';
import { RunStore } from '../sidecar/store/runs';
import { type Controller } from './controller';
import { runCsv } from './csv';
import { runDescription, withoutLinks } from './format';
import { runOf } from './runsView';
import { readSettings, type SettingName } from './settings';

/** The `adamTrainer.*` settings as a run configuration, or undefined after telling the user what is wrong. */
export function settingsConfig(): StartConfig | undefined {
  const section = vscode.workspace.getConfiguration('adamTrainer');
  const result = readSettings(
    {
      get: (name: SettingName) => section.get(name),
      userValue: (name: SettingName) => section.inspect(name)?.globalValue,
    },
    { trusted: vscode.workspace.isTrusted, workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
  );
  if (result.ok) return result.config;
  const first = result.errors[0].split(' ')[0];
  void vscode.window.showErrorMessage(withoutLinks(`Train with Adam: ${result.errors.join('; ')}. No run was started.`), 'Open Settings').then((choice) => {
    if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', first);
  });
  return undefined;
}

export async function reportErrors(what: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    void vscode.window.showErrorMessage(withoutLinks(`Train with Adam: ${what}: ${(e as Error).message}`));
  }
}

export function train(c: Controller): Promise<void> {
  return reportErrors('could not start the run', async () => {
    const config = settingsConfig();
    if (!config) return;
    await c.ensureSidecar();
    const live = c.liveRuns();
    if (live.length) {
      const names = live.map((r) => r.runId).join(', ');
      const choice = await vscode.window.showWarningMessage(
        `A run is training: ${names}. Stop it, or run the new one beside it (both share the CPU)?`,
        { modal: true },
        'Stop it',
        'Run beside it',
      );
      if (!choice) return;
      if (choice === 'Stop it') for (const r of live) await c.send((requestId) => ({ type: 'stop', runId: r.runId, requestId }));
    }
    c.openDashboard();
    await c.startRun((requestId) => ({ type: 'start', config, requestId }));
  });
}

export function compare(c: Controller): Promise<void> {
  return reportErrors('could not start the comparison', async () => {
    const config = settingsConfig();
    if (!config) return;
    c.openDashboard();
    // Same seed, data and batch size; the seed's SGD is momentum 0.9 at the same learning rate.
    // The requestIds start with "compare" so that the dashboard overlays the two runs.
    const adam = await c.startRun((requestId) => ({ type: 'start', config: { ...config, optimizer: 'adam' }, requestId }), 'compare');
    await c.startRun((requestId) => ({ type: 'start', config: { ...config, optimizer: 'sgd' }, requestId }), 'compare');
    c.setCurrent(adam); // the status bar follows the Adam run, as the dashboard opens it
  });
}

const DEFAULT_SEED_COUNT = 10;

/** "Adam: Compare over Seeds...": how many seeds (1..N) and which optimizers, then the comparison in the sidecar. */
export function compareOverSeeds(c: Controller): Promise<void> {
  return reportErrors('could not start the comparison', async () => {
    const settings = settingsConfig();
    if (!settings) return;
    const count = await vscode.window.showInputBox({
      title: 'Compare over seeds (1 of 2)',
      prompt: 'How many seeds? Each seed trains every optimizer once (seeds 1..N, one worker thread a run, as many runs at a time as there are cores).',
      value: String(DEFAULT_SEED_COUNT),
      validateInput: seedCountError,
    });
    if (count === undefined) return;
    const picked = await vscode.window.showQuickPick(
      COMPARED_OPTIMIZERS.map((name) => ({ label: name, picked: name === 'adam' || name === 'sgd', name })),
      { title: 'Compare over seeds (2 of 2): optimizers; the first two are compared seed by seed', canPickMany: true },
    );
    if (!picked?.length) return;
    const optimizers: ComparedOptimizer[] = picked.map((p) => p.name);
    const seeds = Array.from({ length: Number(count) }, (_, i) => i + 1);
    // The settings' experiment (data, length, batch, hyperparameters) for every run; optimizer and seed vary,
    // and each run gets one worker so that runs go side by side.
    const { optimizer: _o, seed: _s, workers: _w, ...config } = settings;
    c.openDashboard();
    const reply = await c.request((requestId) => ({ type: 'compare', optimizers, seeds, config, requestId }), 'compare');
    if (reply.type !== 'comparing') throw new Error(`unexpected reply ${reply.type}`);
    void vscode.window.showInformationMessage(
      `Train with Adam: comparing ${optimizers.join(', ')} over ${seeds.length} seed${seeds.length > 1 ? 's' : ''} (${optimizers.length * seeds.length} runs). ` +
        'The dashboard draws each optimizer\'s mean curve and the verdict as the runs finish.',
    );
  });
}

/** Why a seed count is not acceptable, or undefined (showInputBox's validateInput). */
export function seedCountError(text: string): string | undefined {
  const n = Number(text.trim());
  return /^\s*\d+\s*$/.test(text) && n >= 1 && n <= MAX_COMPARE_SEEDS ? undefined : `a whole number of seeds in 1..${MAX_COMPARE_SEEDS}`;
}

/** The run a control command acts on: the Runs view's item, the followed one if it is live, otherwise one the user picks. */
async function liveTarget(c: Controller, states: string[], verb: string, arg?: unknown): Promise<string | undefined> {
  const fromView = runOf(arg);
  if (fromView) return fromView.runId;
  await c.ensureSidecar();
  const candidates = c.liveRuns().filter((r) => states.includes(r.state));
  const current = candidates.find((r) => r.runId === c.current);
  if (current) return current.runId;
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`Train with Adam: no run to ${verb}.`);
    return undefined;
  }
  if (candidates.length === 1) return candidates[0].runId;
  return (await pickRun(candidates, `Run to ${verb}`))?.runId;
}

export function control(c: Controller, type: 'pause' | 'resume' | 'stop', arg?: unknown): Promise<void> {
  const states = { pause: ['running', 'downloading'], resume: ['paused'], stop: [...LIVE_STATES] }[type];
  return reportErrors(`could not ${type} the run`, async () => {
    const runId = await liveTarget(c, states, type, arg);
    if (runId) await c.send((requestId) => ({ type, runId, requestId }));
  });
}

export function resumeFromCheckpoint(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not resume', async () => {
    const fromView = runOf(arg);
    if (fromView) {
      c.openDashboard();
      await c.startRun((requestId) => ({ type: 'start', config: {}, resumeFrom: join(c.runsDir, fromView.runId), requestId }));
      return;
    }
    const picked = await vscode.window.showOpenDialog({
      title: 'Resume from checkpoint',
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: vscode.Uri.file(c.runsDir),
      filters: { Checkpoints: ['ckpt'] },
      openLabel: 'Resume',
    });
    if (!picked?.[0]) return;
    c.openDashboard();
    await c.startRun((requestId) => ({ type: 'start', config: {}, resumeFrom: picked[0].fsPath, requestId }));
  });
}

export function store(c: Controller): RunStore {
  return new RunStore(c.runsDir);
}

/** The Runs view's item if the command came from there, otherwise the run the user picks. */
export async function pickRun(runs: RunSummary[], title: string, arg?: unknown): Promise<RunSummary | undefined> {
  const fromView = runOf(arg);
  if (fromView) return runs.find((r) => r.runId === fromView.runId) ?? fromView;
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('Train with Adam: there are no runs yet.');
    return undefined;
  }
  const items = [...runs].reverse().map((r) => ({ label: r.runId, description: runDescription(r), run: r }));
  return (await vscode.window.showQuickPick(items, { title, matchOnDescription: true }))?.run;
}

export function exportCsv(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not export the run', async () => {
    const s = store(c);
    const run = await pickRun(s.listRuns(), 'Export run as CSV', arg);
    if (!run) return;
    const target = await vscode.window.showSaveDialog({ title: 'Export run as CSV', defaultUri: defaultTarget(`${run.runId}.csv`), filters: { CSV: ['csv'] } });
    if (!target) return;
    await writeFile(target.fsPath, runCsv(s.readHistory(run.runId)));
    offerToOpen(`Exported ${run.runId} to ${target.fsPath}.`, target);
  });
}

export function exportWeights(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not export the weights', async () => {
    const s = store(c);
    const run = await pickRun(s.listRuns(), 'Export weights (safetensors)', arg);
    if (!run) return;
    const checkpoints = s.checkpoints(run.runId).reverse();
    if (checkpoints.length === 0) throw new Error(`run ${run.runId} has no checkpoint yet`);
    const picked = await vscode.window.showQuickPick(
      checkpoints.map((k) => ({ label: `step ${k.step.toLocaleString('en-US')}`, description: k.path.endsWith('latest.ckpt') ? 'latest' : undefined, checkpoint: k })),
      { title: `Checkpoint of ${run.runId} to export` },
    );
    if (!picked) return;
    const target = await vscode.window.showSaveDialog({ title: 'Export weights', defaultUri: defaultTarget(`${run.runId}-step-${picked.checkpoint.step}.safetensors`), filters: { safetensors: ['safetensors'] } });
    if (!target) return;
    await runCli(c, ['export', picked.checkpoint.path, target.fsPath]);
    void vscode.window.showInformationMessage(withoutLinks(`Exported the weights of ${run.runId} at step ${picked.checkpoint.step} to ${target.fsPath} (PyTorch: safetensors.torch.load_file).`));
  });
}

/** "Adam: Export Run as PyTorch Script...": a run from its first step, or from one of its checkpoints, into a new folder. */
export function exportPytorch(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not export the run to PyTorch', async () => {
    const s = store(c);
    const run = await pickRun(s.listRuns(), 'Export run as a PyTorch script', arg);
    if (!run) return;
    const starts = [
      { label: 'From its first step', description: 'initial weights, every edit', target: run.runId, suffix: '' },
      ...s.checkpoints(run.runId).reverse().map((k) => ({
        label: `From step ${k.step.toLocaleString('en-US')}`,
        description: 'checkpoint: weights and optimizer state',
        target: k.path,
        suffix: `-step-${k.step}`,
      })),
    ];
    const start = starts.length === 1 ? starts[0] : await vscode.window.showQuickPick(starts, { title: `Export ${run.runId} as a PyTorch script` });
    if (!start) return;
    const parent = await vscode.window.showOpenDialog({ title: 'Folder to export into', canSelectFiles: false, canSelectFolders: true, canSelectMany: false, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri, openLabel: 'Export here' });
    if (!parent?.[0]) return;
    const outDir = join(parent[0].fsPath, `${run.runId}-pytorch${start.suffix}`);
    // The shipped sample lives in the extension's folder: copy its decoded images along, so the export stands alone.
    const withData = run.config.data === 'sample' ? ['--with-data'] : [];
    await runCli(c, ['export-pytorch', start.target, outDir, ...withData, '--runs-dir', c.runsDir, '--cache-dir', c.cacheDir]);
    offerToOpen(`Exported ${run.runId} as a PyTorch script to ${outDir}: run \`python train.py\` there (README.md has the torchrun commands).`, vscode.Uri.file(join(outDir, 'README.md')));
  });
}

export function deleteRun(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not delete the run', async () => {
    const runs = store(c).listRuns().filter((r) => !(LIVE_STATES.has(r.state) && !r.orphaned));
    const fromView = runOf(arg);
    if (fromView && !runs.some((r) => r.runId === fromView.runId)) throw new Error(`run ${fromView.runId} is training: stop it first`);
    const run = await pickRun(runs, 'Delete run (runs that are training are not listed)', arg);
    if (!run) return;
    const choice = await vscode.window.showWarningMessage(`Delete run ${run.runId}, its metrics and its checkpoints? This cannot be undone.`, { modal: true }, 'Delete');
    if (choice !== 'Delete') return;
    await c.request((requestId) => ({ type: 'delete', runId: run.runId, requestId }));
    c.runsView.refresh();
    void vscode.window.showInformationMessage(`Deleted run ${run.runId}.`);
  });
}

export function clearDatasetCache(c: Controller): Promise<void> {
  return reportErrors('could not clear the dataset cache', async () => {
    const choice = await vscode.window.showWarningMessage(
      `Delete the downloaded and decoded CIFAR-10 in ${c.cacheDir}? The next run downloads it again (about 160 MB).`,
      { modal: true },
      'Delete',
    );
    if (choice !== 'Delete') return;
    await rm(c.cacheDir, { recursive: true, force: true });
    void vscode.window.showInformationMessage('Train with Adam: the dataset cache is cleared.');
  });
}

/** On activation: runs left training when the last window closed (or the sidecar died) are offered for resuming. */
export async function offerToResumeInterrupted(c: Controller): Promise<void> {
  let interrupted: RunSummary[];
  try {
    interrupted = store(c).listRuns().filter((r) => r.orphaned);
  } catch {
    return; // an unreadable runs folder is reported by the commands that need it
  }
  if (interrupted.length === 0) return;
  const names = interrupted.map((r) => r.runId).join(', ');
  const choice = await vscode.window.showInformationMessage(
    `Train with Adam: ${interrupted.length === 1 ? 'a run was' : `${interrupted.length} runs were`} interrupted (${names}). Resume from the latest checkpoint?`,
    'Resume',
    'Not now',
  );
  if (choice !== 'Resume') return;
  await reportErrors('could not resume', async () => {
    c.openDashboard();
    for (const r of interrupted) await c.startRun((requestId) => ({ type: 'start', config: {}, resumeFrom: join(c.runsDir, r.runId), requestId }));
  });
}

function defaultTarget(name: string): vscode.Uri | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  return folder ? vscode.Uri.joinPath(folder, name) : undefined;
}

export function offerToOpen(text: string, file: vscode.Uri): void {
  void vscode.window.showInformationMessage(withoutLinks(text), 'Open').then((choice) => {
    if (choice === 'Open') void vscode.commands.executeCommand('vscode.open', file);
  });
}

/** Runs a command of the bundled command line (VS Code's own Node, never PATH) and rejects with its stderr. */
function runCli(c: Controller, args: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = fork(c.context.asAbsolutePath(join('bin', 'adam-trainer.js')), args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => c.output.append(String(d)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(stderr.trim() || `exit code ${code}`))));
  });
}
