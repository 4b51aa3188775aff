// "Export Run as CSV": one row per metrics message, with the test numbers on the rows of the steps they
// were measured at and the hyperparameter changes on the rows of the steps they took effect.
import type { AppliedMessage, EvalMessage, MetricsMessage } from '../sidecar/protocol';

const COLUMNS = ['step', 'epoch', 'samplesSeen', 'loss', 'lossMin', 'lossMax', 'accuracy', 'learningRate', 'samplesPerSec', 'testLoss', 'testAccuracy', 'changes'] as const;

export function runCsv(history: { metrics: MetricsMessage[]; evals: EvalMessage[]; applied: AppliedMessage[] }): string {
  const rows = new Map<number, Record<string, string | number>>();
  const row = (step: number) => {
    let r = rows.get(step);
    if (!r) rows.set(step, (r = { step }));
    return r;
  };
  for (const m of history.metrics) {
    Object.assign(row(m.step), { epoch: m.epoch, samplesSeen: m.samplesSeen, loss: m.loss, lossMin: m.lossMin, lossMax: m.lossMax, accuracy: m.accuracy, learningRate: m.learningRate, samplesPerSec: m.samplesPerSec });
  }
  for (const e of history.evals) Object.assign(row(e.step), { epoch: e.epoch, testLoss: e.testLoss, testAccuracy: e.testAccuracy });
  for (const a of history.applied) {
    const text = Object.entries(a.changes).map(([field, { from, to }]) => `${field} ${from}->${to}`).join('; ');
    const r = row(a.step);
    r.changes = r.changes ? `${r.changes}; ${text}` : text;
  }
  const lines = [COLUMNS.join(',')];
  for (const step of [...rows.keys()].sort((a, b) => a - b)) {
    const r = rows.get(step)!;
    lines.push(COLUMNS.map((c) => cell(r[c])).join(','));
  }
  return lines.join('\n') + '\n';
}

/** RFC 4180 quoting; a leading = + - @ is prefixed so that a spreadsheet does not run it as a formula. */
function cell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
