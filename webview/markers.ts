// Markers for hyperparameter changes (`applied` messages) and the short names and number format shown
// on them: "lr 0.001 → 0.003".
import type { AppliedMessage } from '../sidecar/protocol';

export interface Marker {
  runId: string;
  step: number;
  label: string;
}

/** The short names a reader of the Adam paper expects to see on a chart. */
export const SHORT_NAMES: Record<string, string> = {
  learningRate: 'lr',
  beta1: 'β1',
  beta2: 'β2',
  epsilon: 'ε',
  weightDecay: 'wd',
  momentum: 'momentum',
  alpha: 'α',
  batchSize: 'batch',
  schedule: 'schedule',
  warmupSteps: 'warmup',
  minLearningRate: 'min lr',
  maxLearningRate: 'max lr',
  stepSize: 'step size',
  gamma: 'γ',
  pctStart: 'pct start',
};

/** A compact number: 0.001, 0.9995, 32, 1e-8, 2.5e-5 (no float noise like 0.30000000000000004). */
export function formatNumber(x: number | string): string {
  if (typeof x === 'string') return x;
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e6) return String(parseFloat(x.toPrecision(4)));
  const [mantissa, exponent] = x.toExponential(3).split('e');
  return `${parseFloat(mantissa)}e${Number(exponent)}`;
}

export function appliedLabel(changes: AppliedMessage['changes']): string {
  return Object.entries(changes)
    .map(([field, { from, to }]) => `${SHORT_NAMES[field] ?? field} ${formatNumber(from)} → ${formatNumber(to)}`)
    .join(', ');
}

export function markerFromApplied(applied: AppliedMessage): Marker {
  return { runId: applied.runId, step: applied.step, label: appliedLabel(applied.changes) };
}

/**
 * Markers in step order, one per step: two `applied` messages at the same step (two edits that landed at
 * one step boundary) share a line and their labels are joined.
 */
export function markersFromApplied(applied: readonly AppliedMessage[]): Marker[] {
  const byStep = new Map<string, Marker>();
  for (const a of applied) {
    const key = `${a.runId}@${a.step}`;
    const m = markerFromApplied(a);
    const existing = byStep.get(key);
    if (!existing) byStep.set(key, m);
    else if (!existing.label.split(', ').includes(m.label)) existing.label += `, ${m.label}`;
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
