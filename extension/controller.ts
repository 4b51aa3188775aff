// The extension's state for one window: the sidecar it supervises, the relay to the dashboard, the runs
// this window follows (status bar, end-of-run notifications, download progress) and requests awaiting
// their answer. Commands (extension/commands.ts) call into it.
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ClientMessage, RunSummary, ServerMessage } from '../sidecar/protocol';
import { isEnded, LIVE_STATES } from '../sidecar/protocol';
import { endedMessage, figuresWaitMs, progressText, statusBarText, statusBarTooltip, withoutLinks, type FollowedRun } from './format';
import { DashboardPanel } from './panel';
import { Relay } from './relay';
import { runContextKeys } from './runsTree';
import { RunsView } from './runsView';
import { Sidecar, type SidecarState } from './sidecar';

const REQUEST_TIMEOUT_MS = 60_000;

type Reply = Exclude<ServerMessage, { type: 'error' }>;
interface Pending {
  resolve(msg: Reply): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class Controller implements vscode.Disposable {
  readonly runsDir: string;
  readonly cacheDir: string;
  readonly output: vscode.OutputChannel;
  readonly relay: Relay;
  readonly runsView: RunsView;
  /** The `adamTrainer.*` context keys as last set (setContext only when one changes). */
  private contextKeys = '';
  private readonly sidecar: Sidecar;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly followed = new Map<string, FollowedRun>();
  /** The run the status bar shows and the Pause/Resume/Stop commands act on first. */
  private currentRunId?: string;
  private readonly pending = new Map<string, Pending>();
  private nextRequest = 1;
  private progress?: { runId?: string; report(text: string, fraction: number): void; end(): void };
  private readonly disposables: vscode.Disposable[] = [];

  constructor(readonly context: vscode.ExtensionContext) {
    const storage = context.globalStorageUri.fsPath;
    this.runsDir = join(storage, 'runs');
    this.cacheDir = join(storage, 'cache');
    this.output = vscode.window.createOutputChannel('Train with Adam');
    this.statusItem = vscode.window.createStatusBarItem('adamTrainer.status', vscode.StatusBarAlignment.Left, 50);
    this.statusItem.name = 'Train with Adam';
    this.statusItem.command = 'adamTrainer.openDashboard';
    this.relay = new Relay({
      post: (msg) => DashboardPanel.current?.post(msg),
      send: (msg) => this.sidecar.send(msg),
      followed: () => new Set(this.followed.keys()),
    });
    this.sidecar = new Sidecar(
      { script: context.asAbsolutePath(join('bin', 'adam-trainer.js')), runsDir: this.runsDir, cacheDir: this.cacheDir, maxRuns: maxRunsSetting() },
      {
        message: (msg) => this.onMessage(msg),
        state: (state, detail) => this.onSidecarState(state, detail),
        log: (line) => this.output.appendLine(line),
      },
    );
    this.runsView = new RunsView({ liveList: () => (this.relay.hasRunList() ? this.relay.runList() : undefined), runsDir: this.runsDir });
    this.disposables.push(this.output, this.statusItem, this.runsView);
  }

  /** Starts the sidecar if needed. Errors are shown to the user and rethrown. */
  async ensureSidecar(): Promise<void> {
    try {
      await this.sidecar.start();
    } catch (e) {
      const choice = await vscode.window.showErrorMessage(withoutLinks(`Train with Adam: the sidecar could not start (${(e as Error).message}).`), 'Open Log');
      if (choice === 'Open Log') this.output.show();
      throw e;
    }
  }

  openDashboard(): void {
    DashboardPanel.createOrShow(this.context.extensionUri, this.relay);
    this.ensureSidecar().catch(() => undefined);
  }

  /**
   * Sends a request and resolves with the reply carrying its requestId (or rejects with the error's message).
   * `prefix` names the requestId's kind for the dashboard ("compare" runs are overlaid there).
   */
  async request(make: (requestId: string) => ClientMessage, prefix = 'ext'): Promise<Reply> {
    await this.ensureSidecar();
    const requestId = `${prefix}-${this.nextRequest++}`;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error('the sidecar did not answer in time'));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
      if (!this.sidecar.send(make(requestId))) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(new Error('the sidecar is not connected'));
      }
    });
  }

  /** Sends a message whose answer is not awaited (pause/resume/stop answer with `state`); an error is shown. */
  async send(make: (requestId: string) => ClientMessage): Promise<void> {
    await this.ensureSidecar();
    if (!this.sidecar.send(make(`ext-${this.nextRequest++}`))) throw new Error('the sidecar is not connected');
  }

  /** Starts (or resumes) a run, follows it, and shows the dashboard. */
  async startRun(make: (requestId: string) => ClientMessage, prefix = 'ext'): Promise<string> {
    const reply = await this.request(make, prefix);
    if (reply.type !== 'started') throw new Error(`unexpected reply ${reply.type}`);
    this.follow(reply.runId, reply.config.epochs, reply.config.optimizer);
    return reply.runId;
  }

  follow(runId: string, epochs: number, optimizer: FollowedRun['optimizer'] = 'adam'): void {
    const previous = this.currentRunId ? this.followed.get(this.currentRunId) : undefined;
    if (previous && isEnded(previous.state)) this.followed.delete(previous.runId);
    this.followed.set(runId, { runId, state: 'running', epochs, optimizer });
    this.currentRunId = runId;
    this.updateStatus();
  }

  /** Runs training now, as the sidecar last said (for the "Stop it / Run beside it" question and the pickers). */
  liveRuns(): RunSummary[] {
    return this.relay.runList().filter((r) => LIVE_STATES.has(r.state) && !r.orphaned);
  }

  get current(): string | undefined {
    return this.currentRunId;
  }

  /** Makes a followed run the one on the status bar. */
  setCurrent(runId: string): void {
    if (!this.followed.has(runId)) return;
    this.currentRunId = runId;
    this.updateStatus();
  }

  async stopSidecar(): Promise<void> {
    await this.sidecar.stop();
  }

  // ---------------------------------------------------------------------------------------------------

  private settleRequest(requestId: string, msg: ServerMessage): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.resolve(msg as Reply);
  }

  private onMessage(msg: ServerMessage): void {
    this.relay.fromSidecar(msg);
    this.runsView.onMessage(msg);
    if (msg.type === 'hello' || msg.type === 'runs' || msg.type === 'started' || msg.type === 'state') this.updateContextKeys();
    const requestId = 'requestId' in msg && msg.requestId !== undefined ? String(msg.requestId) : undefined;
    // Merged live edits are answered together: settle every request an `applied` names.
    if (msg.type === 'applied') for (const id of msg.requestIds ?? []) this.settleRequest(String(id), msg);
    const pending = requestId ? this.pending.get(requestId) : undefined;
    if (pending && requestId) {
      this.pending.delete(requestId);
      clearTimeout(pending.timer);
      if (msg.type === 'error') pending.reject(new Error(msg.message));
      else pending.resolve(msg);
    } else if (msg.type === 'error' && requestId?.startsWith('ext-')) {
      void vscode.window.showErrorMessage(withoutLinks(`Train with Adam: ${msg.message}`));
    } else if (msg.type === 'error' && msg.code === 'write_failed') {
      // Work that could not be saved: said where the user looks, not only in the log.
      this.output.appendLine(msg.message);
      void vscode.window.showWarningMessage(withoutLinks(`Train with Adam: ${msg.message}`), 'Open Log').then((c) => { if (c) this.output.show(); });
    }
    const run = 'runId' in msg && msg.runId !== undefined ? this.followed.get(msg.runId) : undefined;
    switch (msg.type) {
      case 'started':
        // A run resumed by the supervisor after a crash is one this window followed.
        if (requestId?.startsWith('resume-')) this.follow(msg.runId, msg.config.epochs, msg.config.optimizer);
        break;
      case 'metrics':
        if (run) run.metrics = msg;
        break;
      case 'eval':
        if (run) run.eval = msg;
        break;
      case 'state':
        if (run) this.runStateChanged(run, msg.state, msg.reason);
        break;
      case 'progress':
        if (!msg.runId || this.followed.has(msg.runId)) this.showProgress(msg);
        break;
    }
    if (run && run.runId === this.currentRunId) {
      // The status bar shows the run's state, its last metrics and its test accuracy. A change of state updates it at
      // once, steps and evaluations every STATUS_INTERVAL_MS (5 s; a run's first at once); the rest of the live
      // stream (step histograms, system figures, checkpoint notices: most of its 19 messages a second) does not touch
      // it. Each write is a round trip to the workbench, which repaints it, on the cores the run trains on (issue 13).
      if (msg.type === 'state' || msg.type === 'started') this.updateStatus();
      else if ((msg.type === 'metrics' || msg.type === 'eval') && !this.statusTimer) {
        const wait = figuresWaitMs(this.figuresShown, run.runId, Date.now());
        this.statusTimer = setTimeout(() => {
          this.statusTimer = undefined;
          this.updateStatus();
        }, wait);
      }
    }
  }

  private statusTimer?: ReturnType<typeof setTimeout>;
  /** The run whose live figures the status bar last showed, and when they were written. */
  private figuresShown: { runId?: string; at: number } = { at: 0 };

  private runStateChanged(run: FollowedRun, state: FollowedRun['state'], reason?: string): void {
    run.state = state;
    if (state !== 'downloading' && state !== 'idle') this.progress?.end();
    if (!isEnded(state)) return;
    // The current run stays on the status bar with its result until another run is followed.
    if (run.runId !== this.currentRunId) this.followed.delete(run.runId);
    if (state === 'stopped') return; // the user asked for it
    const text = withoutLinks(endedMessage(run, reason));
    const show = state === 'failed' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
    void show(text, 'Open Dashboard', ...(state === 'failed' ? ['Open Log'] : [])).then((choice) => {
      if (choice === 'Open Dashboard') this.openDashboard();
      if (choice === 'Open Log') this.output.show();
    });
  }

  private onSidecarState(state: SidecarState, detail?: string): void {
    this.relay.setConnection(state === 'ready' ? 'open' : state === 'failed' || state === 'stopped' ? 'closed' : 'connecting', detail);
    if (state !== 'ready') {
      this.runsView.refresh();
      this.updateContextKeys();
    }
    if (detail) this.output.appendLine(detail);
    if (state !== 'ready') {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(detail ?? 'the sidecar stopped'));
      }
      this.pending.clear();
      this.progress?.end();
    }
    if (state === 'failed') {
      void vscode.window.showErrorMessage(withoutLinks(`Train with Adam: ${detail ?? 'the sidecar failed.'}`), 'Open Log').then((choice) => {
        if (choice === 'Open Log') this.output.show();
      });
    }
  }

  private updateStatus(): void {
    const run = this.currentRunId ? this.followed.get(this.currentRunId) : undefined;
    if (!run) {
      this.statusItem.hide();
      this.statusShown = false;
      return;
    }
    // Written only when it changed: VS Code sends every write to the workbench, changed or not.
    const text = statusBarText(run);
    if (text !== this.statusItem.text) this.statusItem.text = text;
    if (run.metrics) this.figuresShown = { runId: run.runId, at: Date.now() };
    const markdown = statusBarTooltip(run);
    if (markdown !== this.statusTooltip) {
      this.statusTooltip = markdown;
      const tooltip = new vscode.MarkdownString(markdown);
      tooltip.isTrusted = { enabledCommands: ['adamTrainer.openDashboard', 'adamTrainer.pause', 'adamTrainer.resume', 'adamTrainer.stop'] };
      this.statusItem.tooltip = tooltip;
    }
    if (!this.statusShown) this.statusItem.show();
    this.statusShown = true;
  }

  private statusTooltip?: string;
  private statusShown = false;

  /** Pause shows in the palette only while a run trains, Resume while one is paused (the manifest's `when` clauses). */
  private updateContextKeys(): void {
    const keys = this.relay.hasRunList() ? runContextKeys(this.relay.runList()) : { running: false, paused: false };
    const text = JSON.stringify(keys);
    if (text === this.contextKeys) return;
    this.contextKeys = text;
    void vscode.commands.executeCommand('setContext', 'adamTrainer.running', keys.running);
    void vscode.commands.executeCommand('setContext', 'adamTrainer.paused', keys.paused);
  }

  /** One notification with a progress bar while data is downloaded, extracted and decoded; Cancel stops the run. */
  private showProgress(p: Extract<ServerMessage, { type: 'progress' }>): void {
    this.progress ??= this.openProgress(p.runId);
    this.progress.report(progressText(p), p.total > 0 ? Math.min(1, p.done / p.total) : 0);
  }

  private openProgress(runId: string | undefined): NonNullable<Controller['progress']> {
    let reporter: vscode.Progress<{ message?: string; increment?: number }> | undefined;
    let finish: () => void = () => undefined;
    let idle: ReturnType<typeof setTimeout> | undefined;
    let shownPercent = 0;
    const entry = {
      runId,
      report: (text: string, fraction: number) => {
        // Increments only add up: a new phase (or the test set after the training set) starts the bar again.
        if (fraction * 100 < shownPercent) shownPercent = 0;
        reporter?.report({ message: text, increment: fraction * 100 - shownPercent });
        shownPercent = fraction * 100;
        clearTimeout(idle);
        idle = setTimeout(() => entry.end(), 60_000); // a minute without news: the notification goes
      },
      end: () => {
        clearTimeout(idle);
        if (this.progress === entry) this.progress = undefined;
        finish();
      },
    };
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Train with Adam', cancellable: runId !== undefined }, (progress, token) => {
      reporter = progress;
      token.onCancellationRequested(() => {
        if (runId) this.sidecar.send({ type: 'stop', runId });
        entry.end();
      });
      return new Promise<void>((resolve) => (finish = resolve));
    });
    return entry;
  }

  dispose(): void {
    clearTimeout(this.statusTimer);
    this.relay.dispose();
    this.progress?.end();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

/** adamTrainer.maxRuns, when it is a whole number in 1..64 (otherwise the sidecar's own default). */
function maxRunsSetting(): number | undefined {
  const v = vscode.workspace.getConfiguration('adamTrainer').get<unknown>('maxRuns');
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64 ? v : undefined;
}
