// Which runs the dashboard shows: the open ("primary") run, whose controls the buttons and the form drive,
// plus runs overlaid on it. Pure functions over the run list, so the rules are tested without a browser.
import { LIVE_STATES, type RunSummary } from '../sidecar/protocol';
import { compareText } from './text';

export interface Selection {
  primaryRunId?: string;
  overlaid: string[];
}


/** Newest first: run ids start with their creation time, and createdAt is there when the store has it. */
export function newestFirst(runs: readonly RunSummary[]): RunSummary[] {
  return [...runs].sort((a, b) => compareText(b.createdAt ?? b.runId, a.createdAt ?? a.runId));
}

export function newestRun(runs: readonly RunSummary[], where: (r: RunSummary) => boolean = () => true): RunSummary | undefined {
  return newestFirst(runs).find(where);
}

/**
 * After `hello`: what was shown before (a reload or a reopened panel) if those runs still exist; otherwise
 * the newest run that is training, otherwise the newest run.
 */
export function initialSelection(runs: readonly RunSummary[], persisted: Selection): Selection {
  const ids = new Set(runs.map((r) => r.runId));
  const primary =
    (persisted.primaryRunId && ids.has(persisted.primaryRunId) ? persisted.primaryRunId : undefined) ??
    newestRun(runs, (r) => LIVE_STATES.has(r.state) && !r.orphaned)?.runId ??
    newestRun(runs)?.runId;
  return { primaryRunId: primary, overlaid: persisted.overlaid.filter((id) => ids.has(id) && id !== primary) };
}

/**
 * Where a new run goes. Normally it replaces the open one, which stays drawn only if the user overlaid it;
 * a fork keeps its parent drawn beside it; a comparison run joins the others, and an Adam run is the one
 * opened (its controls and the Adam panel are the point of the comparison).
 */
export function selectionAfterStart(current: Selection, started: { runId: string; parentRunId?: string; optimizer: string }, comparing: boolean): Selection {
  const overlaid = new Set(current.overlaid);
  const keepCurrent = comparing || (started.parentRunId !== undefined && started.parentRunId === current.primaryRunId);
  if (comparing && started.optimizer !== 'adam' && current.primaryRunId) {
    overlaid.add(started.runId);
    return { primaryRunId: current.primaryRunId, overlaid: [...overlaid] };
  }
  if (keepCurrent && current.primaryRunId) overlaid.add(current.primaryRunId);
  overlaid.delete(started.runId);
  return { primaryRunId: started.runId, overlaid: [...overlaid] };
}

/** "Compare": the newest Adam run and the newest SGD run, and which optimizers still need a run. */
export function compareRuns(runs: readonly RunSummary[]): { adam?: string; sgd?: string; missing: Array<'adam' | 'sgd'> } {
  const adam = newestRun(runs, (r) => r.config.optimizer === 'adam')?.runId;
  const sgd = newestRun(runs, (r) => r.config.optimizer === 'sgd')?.runId;
  const missing: Array<'adam' | 'sgd'> = [];
  if (!adam) missing.push('adam');
  if (!sgd) missing.push('sgd');
  return { adam, sgd, missing };
}

/** The runs to draw, primary first. */
export function shownRunIds(s: Selection): string[] {
  return s.primaryRunId ? [s.primaryRunId, ...s.overlaid.filter((id) => id !== s.primaryRunId)] : [...s.overlaid];
}
