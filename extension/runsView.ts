// The Runs view in the "Train with Adam" activity bar container: every run with its figures, the runs of a
// comparison under their group, live while they train. It reads the run list the relay keeps from the
// sidecar; before a sidecar is started (activation starts none) it reads the runs folder once.
import * as vscode from 'vscode';
import type { RunSummary, ServerMessage } from '../sidecar/protocol';
import { RunStore } from '../sidecar/store/runs';
import { runTooltip } from './format';
import { groupLabel, runContextValue, runItemDescription, runLabel, runTree, shownState, type TreeNode } from './runsTree';

/** The tree is redrawn at most this often for a change of state, a new run or an evaluation... */
const REFRESH_INTERVAL_MS = 500;
/** ...and this often for live steps alone (5 metrics a second): each redraw is a round trip to the workbench, which
 *  shares the user's cores with the run (issue 13). */
const STEP_REFRESH_INTERVAL_MS = 2000;

const STATE_ICONS: Record<string, string> = {
  idle: 'loading~spin',
  downloading: 'cloud-download',
  running: 'pulse', // still, as in the status bar (format.ts): a spinning icon costs the run CPU while it trains
  paused: 'debug-pause',
  done: 'pass',
  stopped: 'debug-stop',
  failed: 'error',
  interrupted: 'warning',
};

export interface RunSource {
  /** The sidecar's run list once it said hello; undefined before. */
  liveList(): RunSummary[] | undefined;
  runsDir: string;
}

export class RunsView implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  /** Steps from the live metrics (the run list carries the step of the last state or evaluation). */
  private readonly steps = new Map<string, number>();
  private fromDisk?: RunSummary[];
  private timer?: ReturnType<typeof setTimeout>;
  /** Whether the view is on screen (TreeView.visible). A hidden view is not redrawn: each redraw is a round trip to
   *  the workbench, which a closed view still paid every 2 s while a run trained (issue 13); it is redrawn once as
   *  it is shown again, if anything changed meanwhile. */
  private visible = true;
  private stale = false;

  constructor(private readonly source: RunSource) {}

  /** Every sidecar message passes here; the ones that change what the view shows schedule a redraw. */
  onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'metrics':
        this.steps.set(msg.runId, msg.step);
        this.scheduleRefresh(STEP_REFRESH_INTERVAL_MS);
        return;
      case 'hello':
      case 'runs':
      case 'started':
      case 'state':
      case 'eval':
        break;
      default:
        return;
    }
    this.scheduleRefresh(REFRESH_INTERVAL_MS);
  }

  /** Reads the runs folder again (the view's Refresh button; a sidecar that stopped). */
  refresh(): void {
    this.fromDisk = undefined;
    this.redraw();
  }

  /** The view was shown or hidden (TreeView.onDidChangeVisibility). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) this.redraw();
  }

  private redraw(): void {
    if (!this.visible) {
      this.stale = true;
      return;
    }
    this.stale = false;
    this.changed.fire();
  }

  runs(): RunSummary[] {
    const live = this.source.liveList();
    if (live) return live.map((r) => ((this.steps.get(r.runId) ?? -1) > (r.step ?? -1) ? { ...r, step: this.steps.get(r.runId) } : r));
    this.fromDisk ??= readRuns(this.source.runsDir);
    return this.fromDisk;
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) return runTree(this.runs());
    return node.kind === 'group' ? node.runs : [];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.kind === 'group') {
      const { label, description } = groupLabel(node);
      const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `group:${node.group.id}`;
      item.description = description;
      item.iconPath = new vscode.ThemeIcon('layers');
      item.contextValue = 'group';
      return item;
    }
    const r = node.run;
    const item = new vscode.TreeItem(runLabel(r), vscode.TreeItemCollapsibleState.None);
    item.id = `run:${r.runId}`;
    item.description = runItemDescription(r);
    item.tooltip = new vscode.MarkdownString(runTooltip(r));
    item.iconPath = new vscode.ThemeIcon(STATE_ICONS[shownState(r)] ?? 'circle-outline');
    item.contextValue = runContextValue(r);
    item.command = { command: 'adamTrainer.openDashboard', title: 'Open Dashboard', arguments: [node] };
    return item;
  }

  /** Redraws within `ms`: sooner than a redraw already scheduled for later, never twice. */
  private scheduleRefresh(ms: number): void {
    const due = Date.now() + ms;
    if (this.timer && this.due <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.redraw();
    }, ms);
  }

  private due = 0;

  dispose(): void {
    clearTimeout(this.timer);
    this.changed.dispose();
  }
}

function readRuns(runsDir: string): RunSummary[] {
  try {
    return new RunStore(runsDir).listRuns();
  } catch {
    return []; // an unreadable runs folder is reported by the commands that need it
  }
}

/** The run a command got from the Runs view (its item's node), if it was invoked there. */
export function runOf(arg: unknown): RunSummary | undefined {
  const node = arg as Partial<TreeNode> | undefined;
  return node && typeof node === 'object' && node.kind === 'run' && node.run && typeof node.run.runId === 'string' ? node.run : undefined;
}
