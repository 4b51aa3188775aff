// Step-histogram columns (protocol.ts `stepHistogram`) as the wire and the run's history carry them: made from the
// counts of optim/stepHistogram.ts, and merged when a run grows long. Merging neighbours sums their counts (a
// column stays "how many parameters, over its sampled steps, fell in each bin"), so a long run's history keeps a
// bounded number of columns and loses only time resolution. The sidecar's history reply and the dashboard use it.
import type { StepHistogramMessage } from './protocol';
import type { StepCounts } from './optim/stepHistogram';
import { EFFECTIVE_STEP_BINS, UPDATE_RATIO_BINS } from './optim/stepBins';

export function stepHistogramMessage(runId: string, step: number, counts: StepCounts): StepHistogramMessage {
  const layers: StepHistogramMessage['layers'] = {};
  for (const [layer, c] of Object.entries(counts)) {
    layers[layer] = { ...(c.effectiveStep ? { effectiveStep: Array.from(c.effectiveStep) } : {}), updateRatio: Array.from(c.updateRatio) };
  }
  return { type: 'stepHistogram', runId, step, fromStep: step, columns: 1, bins: { effectiveStep: { ...EFFECTIVE_STEP_BINS }, updateRatio: { ...UPDATE_RATIO_BINS } }, layers };
}

const sameBins = (a: StepHistogramMessage, b: StepHistogramMessage) => JSON.stringify(a.bins) === JSON.stringify(b.bins);

const add = (a: number[] | undefined, b: number[] | undefined): number[] | undefined =>
  a && b && a.length === b.length ? a.map((x, i) => x + b[i]) : undefined;

/** `a` then `b` (later) as one column; null when their bins differ (they cannot be summed). */
export function mergeColumns(a: StepHistogramMessage, b: StepHistogramMessage): StepHistogramMessage | null {
  if (!sameBins(a, b)) return null;
  const layers: StepHistogramMessage['layers'] = {};
  for (const [layer, lb] of Object.entries(b.layers)) {
    const la = a.layers[layer];
    if (!la) return null;
    const updateRatio = add(la.updateRatio, lb.updateRatio);
    if (!updateRatio) return null;
    const effectiveStep = add(la.effectiveStep, lb.effectiveStep);
    layers[layer] = { ...(effectiveStep ? { effectiveStep } : {}), updateRatio };
  }
  return { ...b, fromStep: Math.min(a.fromStep, b.fromStep), columns: a.columns + b.columns, layers };
}

/** At most `max` columns: neighbours merged pairwise as often as needed, in step order. */
export function compactColumns(list: readonly StepHistogramMessage[], max: number): StepHistogramMessage[] {
  let out = [...list];
  while (out.length > max) {
    const next: StepHistogramMessage[] = [];
    for (let i = 0; i < out.length; i += 2) {
      const a = out[i];
      const b = out[i + 1];
      next.push(b ? mergeColumns(a, b) ?? b : a);
    }
    out = next;
  }
  return out;
}
