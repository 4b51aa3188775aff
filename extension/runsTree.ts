// What the Runs view shows, kept apart from the VS Code API so it is tested as plain functions: the runs
// newest first, the runs of a comparison over seeds under their group, and each run's one-line description.
import type { RunGroup, RunState, RunSummary } from '../sidecar/protocol';
import { LIVE_STATES } from '../sidecar/protocol';
import { optimizerLabel, percent } from './format';

export type RunNode = { kind: 'run'; run: RunSummary };
export type GroupNode = { kind: 'group'; group: RunGroup; runs: RunNode[] };
export type TreeNode = RunNode | GroupNode;

/** The view's top level: runs and groups, newest first (run ids start with their creation time). */
export function runTree(runs: RunSummary[]): TreeNode[] {
  const newestFirst = [...runs].sort((a, b) => (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
  const top: TreeNode[] = [];
  const groups = new Map<string, GroupNode>();
  for (const run of newestFirst) {
    if (!run.group) {
      top.push({ kind: 'run', run });
      continue;
    }
    let node = groups.get(run.group.id);
    if (!node) {
      node = { kind: 'group', group: run.group, runs: [] };
      groups.set(run.group.id, node);
      top.push(node);
    }
    node.runs.push({ kind: 'run', run });
  }
  return top;
}

/** The state a user sees: a run whose process is gone while it trained is "interrupted". */
export function shownState(r: RunSummary): RunState | 'interrupted' {
  return r.orphaned ? 'interrupted' : r.state;
}

/** "Adam lr 0.001 · batch 4 · seed 0" */
export function runLabel(r: RunSummary): string {
  return `${optimizerLabel(r.config.optimizer)} lr ${r.config.learningRate} · batch ${r.config.batchSize} · seed ${r.config.seed}`;
}

/** "running · step 1,200 · test 54.2%" */
export function runItemDescription(r: RunSummary): string {
  const parts: string[] = [shownState(r)];
  if (r.step !== undefined) parts.push(`step ${r.step.toLocaleString('en-US')}`);
  if (r.testAccuracy !== undefined) parts.push(`test ${percent(r.testAccuracy)}`);
  return parts.join(' · ');
}

/**
 * The item's contextValue, which the manifest's menus match: "run.running", "run.paused", "run.ended" (stopped,
 * done, failed) or "run.interrupted" (resumable from its checkpoint); a run loading its data counts as running.
 */
export function runContextValue(r: RunSummary): string {
  if (r.orphaned) return 'run.interrupted';
  if (r.state === 'paused') return 'run.paused';
  if (LIVE_STATES.has(r.state)) return 'run.running';
  return 'run.ended';
}

/** "adam vs sgd over 10 seeds" and "4 of 20 done" */
export function groupLabel(g: GroupNode): { label: string; description: string } {
  const done = g.runs.filter((n) => n.run.state === 'done').length;
  const live = g.runs.filter((n) => LIVE_STATES.has(n.run.state) && !n.run.orphaned).length;
  const total = g.group.optimizers.length * g.group.seeds.length;
  const seeds = g.group.seeds.length;
  return {
    label: `${g.group.optimizers.join(' vs ')} over ${seeds} seed${seeds > 1 ? 's' : ''}`,
    description: `${done} of ${total} done${live ? ` · ${live} training` : ''}`,
  };
}

/** The context keys the manifest's `when` clauses read: is any run training, is any paused. */
export function runContextKeys(runs: RunSummary[]): { running: boolean; paused: boolean } {
  const live = runs.filter((r) => LIVE_STATES.has(r.state) && !r.orphaned);
  return { running: live.some((r) => r.state !== 'paused'), paused: live.some((r) => r.state === 'paused') };
}
