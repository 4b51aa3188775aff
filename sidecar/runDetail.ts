// A run's full detail between two steps, for a chart zoomed into them: every step's loss from the run's
// losses.f32 (bucketed only past DETAIL_POINTS steps) and the metrics recorded in the range (compacted the same
// way). The page draws its own fixed-size summary of the whole run; zooming in asks for this.
import { DETAIL_POINTS, type ServerMessage } from './protocol';
import { readLossRange } from './store/lossRange';
import type { RunStore } from './store/runs';
import { compactMetrics } from './store/historySummary';

type Detail = Extract<ServerMessage, { type: 'detail' }>;

export function runDetail(store: RunStore, runId: string, fromStep: number, toStep: number): Detail {
  const range = readLossRange(store.dir(runId), fromStep, toStep, DETAIL_POINTS);
  const finite = (xs: number[]) => xs.map((x) => (Number.isFinite(x) ? x : null));
  const metrics = store.readHistory(runId).metrics.filter((m) => m.step > fromStep && m.step <= toStep);
  return {
    type: 'detail',
    runId,
    fromStep,
    toStep,
    loss: { steps: range.steps, mean: finite(range.mean), min: finite(range.min), max: finite(range.max) },
    metrics: compactMetrics(metrics, DETAIL_POINTS),
  };
}
