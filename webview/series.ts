// Series for the charts, kept apart from the UI so they can be tested without a browser. Points are
// `{x, y}` objects because chart.js's decimation plugin needs `parsing: false` data in that shape; the
// smoothed series is computed here over the full series, before the plugin decimates what is drawn.

export interface XY {
  x: number;
  y: number;
}

/**
 * TensorBoard's smoothing: ema = w·ema + (1−w)·y, divided by 1 − w^n (n = finite points so far) so the
 * first points are not pulled towards the zero the average starts from. A non-finite y (a diverged loss)
 * is passed through and does not enter the average.
 */
export class SmoothedSeries {
  readonly raw: XY[] = [];
  readonly smoothed: XY[] = [];
  private ema = 0;
  private finiteCount = 0;

  constructor(private weight: number) {}

  get smoothingWeight(): number {
    return this.weight;
  }

  push(x: number, y: number): void {
    this.raw.push({ x, y });
    this.smoothed.push({ x, y: this.next(y) });
  }

  /** A new weight re-smooths the whole series, in place, so charts holding these arrays see it. */
  setWeight(weight: number): void {
    if (weight === this.weight) return;
    this.weight = weight;
    this.ema = 0;
    this.finiteCount = 0;
    for (let i = 0; i < this.raw.length; i++) this.smoothed[i].y = this.next(this.raw[i].y);
  }

  clear(): void {
    this.raw.length = 0;
    this.smoothed.length = 0;
    this.ema = 0;
    this.finiteCount = 0;
  }

  private next(y: number): number {
    if (!Number.isFinite(y)) return y;
    const w = this.weight;
    this.ema = w * this.ema + (1 - w) * y;
    this.finiteCount++;
    const debias = w === 1 ? 1 : 1 - Math.pow(w, this.finiteCount);
    return this.ema / debias;
  }
}

/** The same smoothing as a pure function, for one-off series. */
export function smooth(points: readonly XY[], weight: number): XY[] {
  const s = new SmoothedSeries(weight);
  for (const p of points) s.push(p.x, p.y);
  return s.smoothed;
}

/**
 * Appends a point keeping x strictly increasing (the decimation plugin needs sorted, unique x). A point at
 * or before the last x is a repeat (a re-sent message, or history overlapping live messages) and is dropped.
 */
export function appendIncreasing(series: XY[], x: number, y: number): boolean {
  const last = series[series.length - 1];
  if (last && x <= last.x) return false;
  series.push({ x, y });
  return true;
}

/** Chart.js options that make its decimation plugin keep each pixel bucket's min and max (spikes stay visible). */
export const MIN_MAX_DECIMATION = { enabled: true, algorithm: 'min-max' as const };
