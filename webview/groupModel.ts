// What the dashboard knows about comparisons over seeds: the groups in the run list, the one open, and the
// runs of that group (subscribed, each as a RunData), from which the group view is drawn. No DOM here, so
// it is tested without a browser. The statistics are stats.ts's, the same the command line prints.
import type { ComparedOptimizer, RunGroup, RunState, RunSummary, ServerMessage } from '../sidecar/protocol';
import { variantName } from '../sidecar/optim/variants';
import { compareResults, type ComparisonSummary, type SeedResult } from '../sidecar/stats';
import { groupCurve, stepGrid, type BandKind, type GroupCurve } from './groupSeries';
import { RunData } from './runData';
import { compareText } from './text';

export interface GroupMember {
  runId: string;
  optimizer: ComparedOptimizer;
  seed: number;
  state: RunState;
  /** The final test accuracy, once the run is done. */
  testAccuracy?: number;
}

export interface GroupSnapshot {
  group: RunGroup;
  members: GroupMember[];
  curves: Array<{ optimizer: ComparedOptimizer; runs: number; curve: GroupCurve }>;
  results: SeedResult[];
  summary: ComparisonSummary;
}

/** Subscriptions the dashboard should send after a change. */
export interface SubscriptionChange {
  subscribe: string[];
  unsubscribe: string[];
}

const NONE: SubscriptionChange = { subscribe: [], unsubscribe: [] };

export class GroupModel {
  private readonly groups = new Map<string, RunGroup>();
  private readonly summaries = new Map<string, RunSummary>();
  private readonly data = new Map<string, RunData>();
  private openId?: string;

  constructor(private readonly smoothing: () => number) {}

  /** Known groups, newest first (their ids sort by creation time). */
  list(): RunGroup[] {
    return [...this.groups.values()].sort((a, b) => compareText(b.id, a.id));
  }

  get open(): RunGroup | undefined {
    return this.openId ? this.groups.get(this.openId) : undefined;
  }

  /** The dashboard's smoothing applies to the group's runs too. */
  setSmoothing(weight: number): void {
    for (const run of this.data.values()) run.setSmoothing(weight);
  }

  /** The runs of the open group, to subscribe again after a reconnect. */
  watched(): string[] {
    return [...this.data.keys()];
  }

  /** Whether a run's messages are wanted for the open group (the dashboard keeps it subscribed). */
  watches(runId: string): boolean {
    return this.data.has(runId);
  }

  /** A new run list (hello, runs): learns the groups, and subscribes runs of the open group seen for the first time. */
  setRuns(runs: readonly RunSummary[]): SubscriptionChange {
    for (const r of runs) {
      if (!r.group) continue;
      this.groups.set(r.group.id, r.group);
      this.summaries.set(r.runId, r);
    }
    return { subscribe: this.watchNewMembers(), unsubscribe: [] };
  }

  /** Opens a group (or none): its runs are subscribed, the previous group's dropped. */
  openGroup(groupId: string | undefined): SubscriptionChange {
    if (groupId === this.openId) return NONE;
    const unsubscribe = [...this.data.keys()];
    this.data.clear();
    this.openId = groupId !== undefined && this.groups.has(groupId) ? groupId : undefined;
    return { subscribe: this.watchNewMembers(), unsubscribe };
  }

  /** Takes what concerns groups from a sidecar message; returns subscriptions to send. */
  handle(m: ServerMessage): SubscriptionChange {
    switch (m.type) {
      case 'comparing':
        this.groups.set(m.group.id, m.group);
        return NONE;
      case 'started':
        if (!m.group) return NONE;
        this.groups.set(m.group.id, m.group);
        this.summaries.set(m.runId, { runId: m.runId, state: 'running', config: m.config, group: m.group, createdAt: new Date().toISOString() });
        // The sidecar subscribed the client that asked for the comparison; a history is not needed.
        if (m.group.id === this.openId && !this.data.has(m.runId)) this.data.set(m.runId, new RunData(m.runId, m.config, 'running', this.smoothing()));
        return NONE;
      case 'history':
        this.data.get(m.runId)?.loadHistory(m);
        return NONE;
      case 'metrics':
        this.data.get(m.runId)?.addMetrics(m);
        return NONE;
      case 'eval':
        this.data.get(m.runId)?.addEval(m);
        this.patch(m.runId, { testAccuracy: m.testAccuracy });
        return NONE;
      case 'state': {
        const run = this.data.get(m.runId);
        if (run) run.state = m.state;
        this.patch(m.runId, { state: m.state });
        return NONE;
      }
      default:
        return NONE;
    }
  }

  /** The open group as the view draws it; undefined when none is open. */
  snapshot(band: BandKind): GroupSnapshot | undefined {
    const group = this.open;
    if (!group) return undefined;
    const members: GroupMember[] = [];
    for (const [runId, s] of this.summaries) {
      if (s.group?.id !== group.id) continue;
      const run = this.data.get(runId);
      const state = run?.state ?? s.state;
      const testAccuracy = state === 'done' ? (run?.latestEval?.testAccuracy ?? s.testAccuracy) : undefined;
      members.push({ runId, optimizer: variantName(s.config), seed: s.config.seed, state, ...(testAccuracy !== undefined ? { testAccuracy } : {}) });
    }
    members.sort((a, b) => a.seed - b.seed || group.optimizers.indexOf(a.optimizer) - group.optimizers.indexOf(b.optimizer));
    const results: SeedResult[] = members
      .filter((m) => m.testAccuracy !== undefined)
      .map((m) => ({ optimizer: m.optimizer, seed: m.seed, testAccuracy: m.testAccuracy! }));
    // Each run's loss smoothed as the dashboard smooths a single run's, then averaged over the seeds.
    const lossOf = (o: ComparedOptimizer) => members.filter((m) => m.optimizer === o).map((m) => this.data.get(m.runId)?.loss.smoothed ?? []).filter((s) => s.length > 0);
    const grid = stepGrid(group.optimizers.flatMap((o) => lossOf(o)));
    const curves = group.optimizers.map((optimizer) => {
      const series = lossOf(optimizer);
      return { optimizer, runs: series.length, curve: groupCurve(series, grid, band) };
    });
    return { group, members, curves, results, summary: compareResults(results, group.optimizers) };
  }

  private patch(runId: string, patch: Partial<RunSummary>): void {
    const s = this.summaries.get(runId);
    if (s) this.summaries.set(runId, { ...s, ...patch });
  }

  private watchNewMembers(): string[] {
    const group = this.open;
    if (!group) return [];
    const added: string[] = [];
    for (const [runId, s] of this.summaries) {
      if (s.group?.id !== group.id || this.data.has(runId)) continue;
      this.data.set(runId, new RunData(runId, s.config, s.state, this.smoothing()));
      added.push(runId);
    }
    return added;
  }
}
