// The curves of a comparison over seeds: per optimizer, the mean training loss of its runs and a band around
// it (between the lowest and highest run, or one standard deviation either side). Runs report their loss at
// different steps (metrics are aggregated by time), so each run is read on one common grid of steps by
// linear interpolation between its own points, and only inside the steps it has covered.
import type { XY } from './series';

export type BandKind = 'minmax' | 'std';

export interface GroupCurve {
  mean: XY[];
  lower: XY[];
  upper: XY[];
}

/** About `points` whole steps, evenly spaced from the earliest point of any series to the latest. */
export function stepGrid(series: ReadonlyArray<readonly XY[]>, points = 120): number[] {
  let first = Infinity;
  let last = -Infinity;
  for (const s of series) {
    if (!s.length) continue;
    first = Math.min(first, s[0].x);
    last = Math.max(last, s[s.length - 1].x);
  }
  if (!Number.isFinite(first)) return [];
  const grid: number[] = [];
  for (let i = 0; i < points; i++) {
    const x = Math.round(first + ((last - first) * i) / Math.max(1, points - 1));
    if (grid[grid.length - 1] !== x) grid.push(x);
  }
  return grid;
}

/** The series' value at `x` (linear between its points, x increasing); undefined outside its steps or not finite. */
export function valueAt(points: readonly XY[], x: number): number | undefined {
  if (!points.length || x < points[0].x || x > points[points.length - 1].x) return undefined;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid].x <= x) lo = mid;
    else hi = mid;
  }
  const a = points[lo];
  const b = points[hi];
  const y = b.x === a.x ? a.y : a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
  return Number.isFinite(y) ? y : undefined;
}

/**
 * The mean over runs at each step of `grid`, and the band: min..max over the runs, or mean -+ the sample
 * standard deviation (zero width where a single run covers the step). Runs still training have not covered
 * the later steps; there the mean is of the runs that have.
 */
export function groupCurve(series: ReadonlyArray<readonly XY[]>, grid: readonly number[], band: BandKind): GroupCurve {
  const curve: GroupCurve = { mean: [], lower: [], upper: [] };
  for (const x of grid) {
    const ys = series.map((s) => valueAt(s, x)).filter((y): y is number => y !== undefined);
    if (!ys.length) continue;
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    curve.mean.push({ x, y: mean });
    if (band === 'minmax') {
      curve.lower.push({ x, y: Math.min(...ys) });
      curve.upper.push({ x, y: Math.max(...ys) });
    } else {
      const std = ys.length > 1 ? Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / (ys.length - 1)) : 0;
      curve.lower.push({ x, y: mean - std });
      curve.upper.push({ x, y: mean + std });
    }
  }
  return curve;
}
