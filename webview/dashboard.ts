// The dashboard's controller: turns protocol messages into run data and view updates, and user actions
// into protocol messages. Data is updated on every message; the page is drawn at the pace drawScheduler.ts sets
// (within a share of one core, never while hidden), and a chart scrolled out of view is not drawn at all.
import type { ClientMessage, ComparedOptimizer, LiveHyperparameters, RunState, RunSummary, ServerMessage, StartConfig } from '../sidecar/protocol';
import { isEnded } from '../sidecar/protocol';
import { applyTheme, readTheme } from './chartKit';
import type { ShownRun } from './charts';
import { assignRunColors, runColor } from './colors';
import { h } from './dom';
import { GroupModel, type SubscriptionChange } from './groupModel';
import type { BandKind } from './groupSeries';
import { appliedLabel } from './markers';
import { RunData } from './runData';
import { compareRuns, initialSelection, selectionAfterStart, shownRunIds, type Selection } from './runSelection';
import { FrameStats } from './frameStats';
import { DrawScheduler, HIDDEN_RELEASE_MS } from './drawScheduler';
import type { ConnectionState, PersistedState, Transport } from './transport';
import { AdamPanel } from './views/adamPanel';
import { ChartsView } from './views/chartsView';
import { EvalView } from './views/evalView';
import { GalleryView } from './views/galleryView';
import { GroupView } from './views/groupView';
import { Header } from './views/header';
import { HyperparameterForm } from './views/hyperparameterForm';
import { RunsList } from './views/runsList';
import { StepHeatmaps } from './views/stepHeatmaps';
import { ScheduleForm } from './views/scheduleForm';
import { LrFinderView } from './views/lrFinderView';
import { thousands } from './text';

const REQUEST_TIMEOUT_MS = 15_000;
const RUNS_REFRESH_MS = 15_000;
const DEFAULT_SMOOTHING = 0.6;
/** A zoom settles this long before its full detail is asked for (a drag or a wheel zooms many times). */
const DETAIL_DELAY_MS = 150;

interface PendingRequest {
  kind: 'update' | 'start' | 'fork' | 'control';
  timer: ReturnType<typeof setTimeout>;
  compare?: boolean;
}

export class Dashboard {
  private readonly runs = new Map<string, RunSummary>();
  private readonly data = new Map<string, RunData>();
  private selection: Selection = { overlaid: [] };
  private smoothing: number;
  private logLoss: boolean;
  private connected = false;
  /** The connection's last state; undefined until the transport says one. */
  private connection?: ConnectionState;
  /** Hidden for HIDDEN_RELEASE_MS: the runs are unsubscribed until the page is shown. */
  private released = false;
  private releaseTimer?: ReturnType<typeof setTimeout>;
  private pickedStep?: number;
  private nextRequest = 1;
  private readonly pending = new Map<string, PendingRequest>();
  /** `render`'s own time: the JavaScript that draws a frame. */
  readonly frames = new FrameStats();
  /** A frame's whole cost to the page: `render`, then the browser's style, layout and paint of what it changed. */
  readonly frameCosts = new FrameStats();
  /** The open run's full detail for the zoomed steps, drawn in place of its summary while zoomed. */
  private detail?: { runId: string; data: RunData };
  private detailRequest?: string;
  private detailTimer?: ReturnType<typeof setTimeout>;
  private readonly throttle = new DrawScheduler(
    () => this.render(),
    undefined,
    undefined,
    (start, end) => this.frameCosts.record(start, end),
    (intervalMs) => this.transport.pace(intervalMs),
  );
  private refreshTimer?: ReturnType<typeof setInterval>;
  private readonly groups: GroupModel;
  private band: BandKind;
  private persistedGroupId?: string;

  private readonly header: Header;
  private readonly chartsView: ChartsView;
  private readonly form: HyperparameterForm;
  private readonly schedule: ScheduleForm;
  private readonly lrFinder: LrFinderView;
  private readonly adam: AdamPanel;
  private readonly evalView: EvalView;
  private readonly gallery: GalleryView;
  private readonly runsList: RunsList;
  private readonly groupView: GroupView;
  private readonly stepHeatmaps = new StepHeatmaps();
  private readonly layout: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly transport: Transport,
  ) {
    const saved = transport.loadState();
    this.smoothing = typeof saved.smoothing === 'number' && saved.smoothing >= 0 && saved.smoothing < 1 ? saved.smoothing : DEFAULT_SMOOTHING;
    this.logLoss = saved.logLoss === true;
    this.band = saved.groupBand === 'std' ? 'std' : 'minmax';
    this.persistedGroupId = typeof saved.openGroupId === 'string' ? saved.openGroupId : undefined;
    this.groups = new GroupModel(() => this.smoothing);
    this.selection = {
      primaryRunId: typeof saved.primaryRunId === 'string' ? saved.primaryRunId : undefined,
      overlaid: Array.isArray(saved.overlaidRunIds) ? saved.overlaidRunIds.filter((x) => typeof x === 'string') : [],
    };

    applyTheme(readTheme());
    this.header = new Header({
      pause: () => this.control('pause'),
      resume: () => this.control('resume'),
      stop: () => this.control('stop'),
      checkpoint: () => this.control('checkpoint'),
      compare: () => this.compare(),
    });
    this.chartsView = new ChartsView(
      {
        smoothingChanged: (w) => this.setSmoothing(w),
        logLossChanged: (log) => {
          this.logLoss = log;
          this.chartsView.charts.setLogLoss(log);
          this.persist();
        },
        stepPicked: (step) => this.pickStep(step),
        chartShown: () => this.throttle.request(true), // scrolled into view: the user is looking for it
        rangeShown: (range) => this.zoomTo(range),
      },
      { smoothing: this.smoothing, logLoss: this.logLoss },
    );
    this.form = new HyperparameterForm({
      apply: (runId, changes) => this.update(runId, changes),
      start: (config) => this.start(config),
      fork: (runId, step, changes) => this.fork(runId, step, changes),
    });
    this.schedule = new ScheduleForm({ apply: (runId, changes) => this.update(runId, changes) });
    this.lrFinder = new LrFinderView({
      find: (runId, optimizers) => {
        const requestId = `lrfind-${this.nextRequest++}`;
        return this.send({ type: 'lrFind', runId, optimizers, requestId }) ? requestId : undefined;
      },
      apply: (runId, changes) => this.update(runId, changes),
    });
    this.adam = new AdamPanel();
    this.gallery = new GalleryView({ send: (prefix, make) => this.send(make(`${prefix}-${this.nextRequest++}`)) });
    this.evalView = new EvalView({ cellClicked: (trueClass, predictedClass) => this.gallery.showCell(trueClass, predictedClass) });
    this.runsList = new RunsList({ open: (id) => this.open(id), toggleOverlay: (id, on) => this.toggleOverlay(id, on) });
    this.groupView = new GroupView(
      {
        openGroup: (id) => this.openGroup(id),
        bandChanged: (band) => {
          this.band = band;
          this.persist();
          this.throttle.request(true);
        },
        startComparison: (optimizers, seedCount) => this.startComparison(optimizers, seedCount),
      },
      this.band,
    );

    this.layout = h('main', { class: 'layout' }, this.chartsView.element, h('aside', { class: 'side' }, this.form.element, this.schedule.element, this.lrFinder.element, this.adam.element, this.runsList.element));
    root.replaceChildren(this.header.element, this.layout, this.stepHeatmaps.element, this.evalView.element, this.gallery.element, this.groupView.element);
    this.watchTheme();
    document.addEventListener('visibilitychange', () => this.visibilityChanged());

    transport.onMessage((m) => this.handle(m));
    transport.onState((s, detail) => this.connectionChanged(s, detail));
    transport.onInvalid((error) => this.header.notice(`Ignored a message from the sidecar: ${error}`, 'error'));
    this.renderPanels();
    this.render();
    transport.start();
  }

  // ---------------------------------------------------------------------------------------------------
  // Messages from the sidecar.

  private handle(m: ServerMessage): void {
    this.subscribeGroup(this.groups.handle(m));
    switch (m.type) {
      case 'hello':
        // A new connection starts with no subscriptions but those hello names: the runs are followed again (and let
        // go again later if the page is hidden).
        this.released = false;
        this.setRuns(m.runs);
        this.select(initialSelection(m.runs, this.selection), true, new Set(m.subscribed));
        // A new connection has no subscriptions: the open comparison's runs are subscribed again.
        this.subscribeGroup({ subscribe: this.groups.watched(), unsubscribe: [] });
        if (!this.groups.open && this.persistedGroupId) this.openGroup(this.persistedGroupId, false);
        this.visibilityChanged();
        break;
      case 'comparing':
        this.settle(m.requestId);
        this.openGroup(m.group.id);
        this.form.setStatus({ text: `Comparing ${m.group.optimizers.join(', ')} over ${m.group.seeds.length} seeds (${m.group.id}).`, kind: 'ok' });
        break;
      case 'runs':
        this.setRuns(m.runs);
        break;
      case 'detail': {
        const run = this.data.get(m.runId);
        // Only the answer to the latest zoom counts: the user may have zoomed again, or back out, since.
        if (run && m.requestId !== undefined && m.requestId === this.detailRequest) this.detail = { runId: m.runId, data: RunData.detail(run, m, this.smoothing) };
        break;
      }
      case 'started': {
        if (m.group) {
          // A run of a comparison: shown in the comparison's view; the open run stays as it is.
          this.runs.set(m.runId, { runId: m.runId, state: 'running', config: m.config, group: m.group, createdAt: new Date().toISOString() });
          break;
        }
        this.announcedEnd.delete(m.runId);
        const req = this.settle(m.requestId);
        this.runs.set(m.runId, { runId: m.runId, state: 'running', config: m.config, parentRunId: m.parentRunId, forkStep: m.forkStep, createdAt: new Date().toISOString() });
        const run = this.runData(m.runId);
        run.config = m.config;
        run.parentRunId = m.parentRunId;
        run.forkStep = m.forkStep;
        this.pickStep(undefined);
        this.select(selectionAfterStart(this.selection, { runId: m.runId, parentRunId: m.parentRunId, optimizer: m.config.optimizer }, req?.compare === true || isCompareRequest(m.requestId)), false);
        this.send({ type: 'list' });
        this.form.setStatus({ text: `Started ${m.runId}.`, kind: 'ok' });
        break;
      }
      case 'history': {
        if (!this.data.has(m.runId) && !shownRunIds(this.selection).includes(m.runId)) break; // a comparison's run only
        const was = this.data.get(m.runId)?.state;
        const run = this.runData(m.runId);
        performance.mark('adam:history-received');
        run.loadHistory(m);
        performance.mark('adam:history-loaded');
        // A run that ended while the page did not follow it (a background tab that let go of its runs, a connection
        // lost and made again): the notice its `state` message would have brought.
        if (was !== undefined && !isEnded(was) && isEnded(m.state)) this.ended(m.runId, m.state, m.reason);
        this.patchSummary(m.runId, { state: m.state, config: m.config, step: run.lastMetrics?.step, testAccuracy: run.latestEval?.testAccuracy });
        this.throttle.request(true); // the run the user opened: drawn at the next frame, not at the next interval
        break;
      }
      case 'metrics': {
        const run = this.data.get(m.runId);
        if (run?.addMetrics(m)) this.patchSummary(m.runId, { step: m.step });
        break;
      }
      case 'stepHistogram':
        if (this.data.get(m.runId)?.stepHistograms.add(m)) this.throttle.request();
        return;
      case 'eval':
        if (this.data.get(m.runId)?.addEval(m)) this.patchSummary(m.runId, { testAccuracy: m.testAccuracy });
        this.gallery.evaluated(m.runId);
        break;
      case 'gallery':
        this.gallery.gallery(m);
        break;
      case 'classified':
        this.gallery.classified(m);
        break;
      case 'applied': {
        const run = this.data.get(m.runId);
        const changed = Object.keys(m.changes).length > 0;
        if (changed) run?.addApplied(m);
        if (run && changed) this.patchSummary(m.runId, { config: run.config });
        // Merged edits answer every request at once; an edit that changed nothing answers its requester alone.
        let mine = false;
        for (const id of [m.requestId, ...(m.requestIds ?? [])]) if (this.settle(id)) mine = true;
        if (mine) {
          this.form.applied(Object.keys(m.changes));
          this.schedule.applied(Object.keys(m.changes));
          this.form.setPending(false, changed
            ? { text: `Applied at step ${thousands(m.step)}: ${appliedLabel(m.changes)}`, kind: 'ok' }
            : { text: 'Those values were already in force: nothing changed.', kind: 'ok' });
        } else if (m.runId === this.selection.primaryRunId) {
          this.form.applied([]);
          this.schedule.applied([]);
        }
        break;
      }
      case 'plan':
        this.data.get(m.runId)?.addPlan(m);
        break;
      case 'lrFound':
        this.lrFinder.handleFound(m);
        break;
      case 'state': {
        const run = this.data.get(m.runId);
        if (run) run.state = m.state;
        this.patchSummary(m.runId, { state: m.state, orphaned: false, ...(m.step !== undefined ? { step: m.step } : {}) });
        if (isEnded(m.state)) this.ended(m.runId, m.state, m.reason);
        else this.announcedEnd.delete(m.runId); // resumed: its next end is announced again
        break;
      }
      case 'progress':
        this.header.setProgress(m);
        break;
      case 'checkpointed':
        // Periodic and epoch-end checkpoints are routine (3 a second at batch 4): nothing to show, nothing to redraw.
        // Only the ones asked for here are worth a notice.
        if (!this.settle(m.requestId)) return;
        this.header.notice(`Checkpoint of ${m.runId} at step ${thousands(m.step)} saved: ${m.path}`);
        break;
      case 'system':
        this.header.setSystem(m.cpuPercent, m.rssBytes);
        return;
      case 'error': {
        if (this.gallery.error(m.requestId, m.message)) break;
        if (this.lrFinder.handleError(m)) break;
        const req = this.settle(m.requestId);
        if (req && req.kind !== 'control') {
          this.form.setPending(false, { text: m.message, kind: 'error' });
          if (m.field) this.form.showFieldError(m.field.replace(/^config\./, ''), m.message);
        } else this.header.notice(m.message, 'error');
        break;
      }
    }
    // Metrics arrive 20 times a second: they are drawn with the next frame. Anything else is shown at once.
    if (m.type !== 'metrics') this.renderPanels();
    this.throttle.request();
  }

  private connectionChanged(state: ConnectionState, detail?: string): void {
    this.connected = state === 'open';
    this.connection = state;
    this.header.setConnection(state, detail);
    if (!this.connected) {
      // Requests die with their connection; the sidecar will not answer them on the next one.
      for (const p of this.pending.values()) clearTimeout(p.timer);
      if (this.pending.size) this.form.setPending(false, { text: 'The connection closed before the trainer answered.', kind: 'error' });
      this.pending.clear();
      clearInterval(this.refreshTimer);
      this.refreshTimer = undefined;
    } else if (!this.refreshTimer) {
      // States of runs we do not follow (other windows, the command line) are refreshed now and then.
      this.refreshTimer = setInterval(() => this.send({ type: 'list' }), RUNS_REFRESH_MS);
    }
    this.renderPanels();
  }

  // ---------------------------------------------------------------------------------------------------
  // Which runs are shown.

  private setRuns(runs: RunSummary[]): void {
    this.runs.clear();
    for (const r of runs) this.runs.set(r.runId, r);
    const followed = new Set(this.followedRuns());
    for (const [id, run] of this.data) {
      const r = this.runs.get(id);
      if (!r) continue;
      // A followed run that ended while the page heard no `state` message of it (let go of in a background tab): the
      // run list is how the page learns it first when its refresh comes before the history.
      if (followed.has(id) && !isEnded(run.state) && isEnded(r.state)) this.ended(id, r.state, r.reason);
      run.state = r.state;
    }
    this.subscribeGroup(this.groups.setRuns(runs));
  }

  // ---------------------------------------------------------------------------------------------------
  // Comparisons over seeds.

  private openGroup(groupId: string | undefined, scroll = true): void {
    this.subscribeGroup(this.groups.openGroup(groupId));
    this.persistedGroupId = this.groups.open?.id;
    this.persist();
    // An open comparison goes above the single-run charts; none open, its card (the start form) goes last.
    if (this.groups.open) this.layout.before(this.groupView.element);
    else this.evalView.element.after(this.groupView.element);
    if (this.groups.open && scroll) this.groupView.element.scrollIntoView?.({ block: 'start' });
    this.throttle.request(true);
  }

  /** Runs whose end the page has announced: the run list, the history and the `state` message may each bring it. */
  private readonly announcedEnd = new Set<string>();

  private ended(runId: string, state: RunState, reason?: string): void {
    if (this.announcedEnd.has(runId)) return;
    this.announcedEnd.add(runId);
    this.header.notice(`${runId} ${state}${reason ? `: ${reason}` : ''}`, state === 'failed' ? 'error' : 'info');
    if (state !== 'failed') this.header.setProgress(undefined);
  }

  /** The runs this page follows: those shown and the open comparison's. */
  private followedRuns(): string[] {
    return [...new Set([...shownRunIds(this.selection).filter((id) => this.runs.has(id)), ...this.groups.watched()])];
  }

  private visibilityChanged(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (document.hidden) {
      if (!this.released) this.releaseTimer = setTimeout(() => this.release(), HIDDEN_RELEASE_MS);
    } else if (this.released) {
      this.released = false;
      for (const runId of this.followedRuns()) this.send({ type: 'subscribe', runId });
    }
  }

  private release(): void {
    this.releaseTimer = undefined;
    if (!document.hidden || !this.connected) return;
    this.released = true;
    for (const runId of this.followedRuns()) this.send({ type: 'unsubscribe', runId });
  }

  /** Runs shown as single runs stay subscribed when a comparison lets go of them, and the reverse. */
  private subscribeGroup(change: SubscriptionChange): void {
    const shown = new Set(shownRunIds(this.selection));
    if (!this.released) for (const runId of change.subscribe) this.send({ type: 'subscribe', runId });
    for (const runId of change.unsubscribe) if (!shown.has(runId)) this.send({ type: 'unsubscribe', runId });
  }

  private startComparison(optimizers: ComparedOptimizer[], seedCount: number): void {
    const base = this.form.newRunConfig();
    if (!base) {
      this.header.notice('Fix the hyperparameter form before starting a comparison.', 'error');
      return;
    }
    const { optimizer: _o, seed: _s, workers: _w, ...config } = base;
    const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
    if (this.request('start', (requestId) => ({ type: 'compare', optimizers, seeds, config, requestId }), true)) {
      this.form.setStatus({ text: `Starting a comparison of ${optimizers.join(', ')} over ${seedCount} seeds…`, kind: 'pending' });
    }
  }

  private patchSummary(runId: string, patch: Partial<RunSummary>): void {
    const r = this.runs.get(runId);
    if (r) this.runs.set(runId, { ...r, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) });
  }

  private runData(runId: string): RunData {
    let run = this.data.get(runId);
    if (!run) {
      const summary = this.runs.get(runId);
      if (!summary) throw new Error(`no summary for ${runId}`);
      run = new RunData(runId, summary.config, summary.state, this.smoothing);
      this.data.set(runId, run);
    }
    return run;
  }

  /**
   * Shows `next`: subscribes runs that are new to the view (or all, after a (re)connect) and drops the others.
   * `subscribed`: runs the sidecar subscribed this connection to as it opened (hello's `subscribed`); their histories
   * are on the way, and those not shown after all are let go.
   */
  private select(next: Selection, resubscribeAll: boolean, subscribed: ReadonlySet<string> = new Set()): void {
    if (next.primaryRunId !== this.selection.primaryRunId) this.detail = undefined; // the detail was of the run shown before
    const before = new Set(shownRunIds(this.selection));
    this.selection = next;
    const after = shownRunIds(next).filter((id) => this.runs.has(id));
    for (const id of after) {
      const isNew = !this.data.has(id);
      this.runData(id);
      if ((resubscribeAll || isNew || !before.has(id)) && !subscribed.has(id) && !this.released) this.send({ type: 'subscribe', runId: id });
    }
    for (const id of subscribed) if (!after.includes(id) && !this.groups.watches(id)) this.send({ type: 'unsubscribe', runId: id });
    for (const id of before) {
      if (!after.includes(id)) {
        this.data.delete(id);
        if (!this.groups.watches(id)) this.send({ type: 'unsubscribe', runId: id });
      }
    }
    if (!after.includes(next.primaryRunId ?? '')) this.pickStep(undefined);
    this.persist();
    this.renderPanels();
    this.throttle.request(true);
  }

  private open(runId: string): void {
    if (runId === this.selection.primaryRunId) return;
    this.pickStep(undefined);
    this.select({ primaryRunId: runId, overlaid: this.selection.overlaid.filter((id) => id !== runId) }, false);
  }

  private toggleOverlay(runId: string, on: boolean): void {
    const overlaid = new Set(this.selection.overlaid);
    if (on) overlaid.add(runId);
    else overlaid.delete(runId);
    this.select({ ...this.selection, overlaid: [...overlaid] }, false);
  }

  private compare(): void {
    const { adam, sgd, missing } = compareRuns([...this.runs.values()]);
    if (adam && sgd) {
      this.select({ primaryRunId: adam, overlaid: [sgd] }, false);
      return;
    }
    const existing = adam ?? sgd;
    if (existing) this.select({ primaryRunId: existing, overlaid: [] }, false);
    // The missing run matches the existing one (same data, seed, batch, lr, length): a fair comparison.
    const known = existing ? this.runs.get(existing)?.config : undefined;
    const base: StartConfig | undefined = known
      ? { data: known.data, seed: known.seed, epochs: known.epochs, maxSteps: known.maxSteps, batchSize: known.batchSize, learningRate: known.learningRate, workers: known.workers }
      : this.form.newRunConfig();
    if (base && base.data === undefined) delete base.data;
    if (!base) {
      this.header.notice('Fix the hyperparameter form before starting the comparison runs.', 'error');
      return;
    }
    for (const optimizer of missing) this.start({ ...base, optimizer }, true);
  }

  // ---------------------------------------------------------------------------------------------------
  // Requests to the sidecar.

  private send(msg: ClientMessage): boolean {
    return this.transport.send(msg);
  }

  private request(kind: PendingRequest['kind'], make: (requestId: string) => ClientMessage, compare = false): boolean {
    const requestId = `${compare ? 'compare' : 'web'}-${this.nextRequest++}`;
    if (!this.send(make(requestId))) {
      this.header.notice('Not connected to the sidecar.', 'error');
      return false;
    }
    const timer = setTimeout(() => {
      if (!this.pending.delete(requestId)) return;
      if (kind !== 'control') this.form.setPending(false, { text: 'The trainer did not answer within 15 s.', kind: 'error' });
    }, REQUEST_TIMEOUT_MS);
    this.pending.set(requestId, { kind, timer, compare });
    return true;
  }

  private settle(requestId: string | number | undefined): PendingRequest | undefined {
    if (requestId === undefined) return undefined;
    const p = this.pending.get(String(requestId));
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(String(requestId));
    return p;
  }

  private control(type: 'pause' | 'resume' | 'stop' | 'checkpoint'): void {
    const runId = this.selection.primaryRunId;
    if (runId) this.request('control', (requestId) => ({ type, runId, requestId }));
  }

  private update(runId: string, changes: LiveHyperparameters): void {
    if (this.request('update', (requestId) => ({ type: 'update', runId, requestId, ...changes }))) {
      this.form.setPending(true, { text: `Waiting for the trainer to apply ${Object.keys(changes).join(', ')} at the next step…`, kind: 'pending' });
    }
  }

  private start(config: StartConfig, compare = false): void {
    if (!compare) config = { ...this.schedule.values(), ...config };
    if (this.request('start', (requestId) => ({ type: 'start', config, requestId }), compare)) this.form.setStatus({ text: `Starting a ${config.optimizer ?? 'adam'} run…`, kind: 'pending' });
  }

  private fork(runId: string, step: number, changes: LiveHyperparameters): void {
    if (this.request('fork', (requestId) => ({ type: 'fork', runId, step, changes, requestId }))) this.form.setStatus({ text: `Forking ${runId} from step ${step}…`, kind: 'pending' });
  }

  // ---------------------------------------------------------------------------------------------------
  // Settings and drawing.

  /**
   * The step charts were zoomed (or panned) into a range, or back to the whole run. Zoomed, the open run is drawn
   * from its full detail in the run store, asked for once the zoom settles; the whole run from its summary.
   */
  private zoomTo(range: { min: number; max: number } | undefined): void {
    clearTimeout(this.detailTimer);
    this.detailRequest = undefined;
    if (!range) {
      // Back to the whole run: drawn now from the summary (the charts still hold the zoomed range's detail).
      if (this.detail) {
        this.detail = undefined;
        this.render();
      }
      return;
    }
    this.detailTimer = setTimeout(() => {
      const runId = this.selection.primaryRunId;
      const fromStep = Math.max(0, Math.floor(range.min));
      const toStep = Math.ceil(range.max);
      if (!runId || !this.connected || toStep <= fromStep) return;
      const requestId = `detail-${this.nextRequest++}`;
      this.detailRequest = requestId;
      this.send({ type: 'detail', runId, fromStep, toStep, requestId });
    }, DETAIL_DELAY_MS);
  }

  private pickStep(step: number | undefined): void {
    const run = this.selection.primaryRunId ? this.data.get(this.selection.primaryRunId) : undefined;
    this.pickedStep = step === undefined || !run ? undefined : run.nearestStep(step);
    this.form.setPickedStep(this.pickedStep);
    this.chartsView.charts.setPickedStep(this.pickedStep);
  }

  private setSmoothing(weight: number): void {
    this.smoothing = weight;
    for (const run of this.data.values()) run.setSmoothing(weight);
    this.detail?.data.setSmoothing(weight);
    this.groups.setSmoothing(weight);
    this.persist();
    this.throttle.request(true);
  }

  private persist(): void {
    const state: PersistedState = {
      primaryRunId: this.selection.primaryRunId,
      overlaidRunIds: this.selection.overlaid,
      smoothing: this.smoothing,
      logLoss: this.logLoss,
      ...(this.persistedGroupId ? { openGroupId: this.persistedGroupId } : {}),
      groupBand: this.band,
    };
    this.transport.saveState(state);
  }

  private get primary(): RunData | undefined {
    return this.selection.primaryRunId ? this.data.get(this.selection.primaryRunId) : undefined;
  }

  /** Colours of the runs drawn together (never two alike); other runs keep their own colour. */
  private colorOf(runId: string): string {
    return assignRunColors(shownRunIds(this.selection)).get(runId) ?? runColor(runId);
  }

  /** Text panels: cheap, updated on every message. */
  private renderPanels(): void {
    const run = this.primary;
    const interrupted = run !== undefined && this.runs.get(run.runId)?.orphaned === true;
    this.header.update(run, this.connected, run ? this.colorOf(run.runId) : undefined, interrupted);
    this.form.setRun(run, this.connected);
    const state = run ? this.runs.get(run.runId)?.state : undefined;
    this.gallery.setRun(run?.runId, state === 'running');
    this.schedule.setRun(run, this.connected);
    this.lrFinder.setRun(run, this.connected);
    this.runsList.update([...this.runs.values()], this.selection.primaryRunId, new Set(this.selection.overlaid), (id) => this.colorOf(id));
  }

  /** Charts and the heavier panels. */
  /** Everything drawn, at the scheduler's pace (drawScheduler.ts), timed for the page's frame statistics. */
  private render(): void {
    const start = performance.now();
    this.renderPanels();
    this.draw();
    this.frames.record(start, performance.now());
  }

  private draw(): void {
    const shownIds = shownRunIds(this.selection);
    const colors = assignRunColors(shownIds);
    const shown: ShownRun[] = shownIds
      .map((id) => this.data.get(id))
      .filter((r): r is RunData => r !== undefined)
      .map((data) => {
        const primary = data.runId === this.selection.primaryRunId;
        const detail = primary && this.detail?.runId === data.runId ? this.detail.data : undefined;
        return { data: detail ?? data, color: colors.get(data.runId)!, primary, detail: detail !== undefined };
      });
    // Histories are on the way while the socket is opening as well as open: the page's first frames often come first.
    const awaiting = this.connection !== 'closed' && shownIds.some((id) => !this.data.get(id)?.historyLoaded);
    this.chartsView.charts.draw(shown, awaiting);
    this.chartsView.updateLegend(shown);
    this.adam.update(this.primary);
    this.stepHeatmaps.update(this.primary);
    this.evalView.update(this.primary?.latestEval);
    this.groupView.update(this.groups.list(), this.groups.snapshot(this.band));
  }

  /** VS Code changes theme by changing the body's class; the charts re-read the colours. */
  private watchTheme(): void {
    const restyle = () => {
      applyTheme(readTheme());
      this.chartsView.charts.restyle();
    };
    new MutationObserver(restyle).observe(document.body, { attributes: true, attributeFilter: ['class'] });
    window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', restyle);
  }
}

function isCompareRequest(requestId: string | number | undefined): boolean {
  return typeof requestId === 'string' && requestId.startsWith('compare');
}
