// A run's step-histogram columns as the dashboard keeps them: in step order, repeats dropped, and merged pairwise
// (counts summed, sidecar/stepHistogramColumns.ts) when a long run would hold more than MAX_COLUMNS, so memory and
// drawing stay bounded however long it trains. `version` changes with every change, for the heatmaps to skip
// redrawing what they already drew.
import type { StepHistogramMessage } from '../sidecar/protocol';
import { compactColumns } from '../sidecar/stepHistogramColumns';

export const MAX_COLUMNS = 240;

export class StepHistogramSeries {
  columns: StepHistogramMessage[] = [];
  version = 0;

  /** Returns false for a repeat (a step we already have). */
  add(m: StepHistogramMessage): boolean {
    const last = this.columns[this.columns.length - 1];
    if (last && m.step <= last.step) return false;
    this.columns.push(m);
    if (this.columns.length > MAX_COLUMNS) this.columns = compactColumns(this.columns, MAX_COLUMNS);
    this.version++;
    return true;
  }

  load(list: readonly StepHistogramMessage[]): void {
    this.columns = [];
    for (const m of list) this.add(m);
    this.version++;
  }
}
