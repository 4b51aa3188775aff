// Series for the charts, kept apart from the UI so they can be tested without a browser. Points are
// `{x, y}` objects because chart.js's decimation plugin needs `parsing: false` data in that shape. Each series
// is a fixed-size summary (BucketSeries): a run of a million steps costs the page what one of a thousand does.
// The smoothed series is computed here over the summary, before the plugin decimates what is drawn.

import { SUMMARY_POINTS } from '../sidecar/protocol';

export interface XY {
  x: number;
  y: number;
}

/** Buckets a series keeps at most (about twice what a chart is wide in pixels): its memory and cost to draw are fixed. */
export const SERIES_CAPACITY = SUMMARY_POINTS;

/**
 * A series kept as a fixed-size summary: up to `capacity` buckets of `perBucket` points each, every bucket with
 * its mean (`raw`, the line drawn), min and max (the band) and the x of its last point. Until `capacity` points
 * the buckets are the points themselves; then neighbours merge two by two (perBucket doubles), so a run of any
 * length costs the page the same memory and the same drawing, and min and max survive every merge (a spike stays
 * in the band). The arrays are kept in place: charts hold references to them.
 */
export class BucketSeries {
  readonly raw: XY[] = [];
  readonly min: XY[] = [];
  readonly max: XY[] = [];
  /** Points in each bucket (the weights of the means). */
  private counts: number[] = [];
  private perBucket = 1;

  constructor(readonly capacity = SERIES_CAPACITY) {
    if (!(capacity >= 2 && capacity % 2 === 0)) throw new Error(`a series' capacity must be an even number >= 2, got ${capacity}`);
  }

  /** Points per bucket now (1 until the series first fills). */
  get resolution(): number {
    return this.perBucket;
  }

  /** Adds a point (x increasing); `lo` and `hi` are its own min and max when it summarises several values. */
  push(x: number, y: number, lo = y, hi = y): void {
    const n = this.raw.length;
    if (n > 0 && this.counts[n - 1] < this.perBucket) {
      const c = this.counts[n - 1];
      this.raw[n - 1].y = (this.raw[n - 1].y * c + y) / (c + 1);
      this.raw[n - 1].x = this.min[n - 1].x = this.max[n - 1].x = x;
      this.min[n - 1].y = Math.min(this.min[n - 1].y, lo);
      this.max[n - 1].y = Math.max(this.max[n - 1].y, hi);
      this.counts[n - 1] = c + 1;
      this.changedLast();
      return;
    }
    this.raw.push({ x, y });
    this.min.push({ x, y: lo });
    this.max.push({ x, y: hi });
    this.counts.push(1);
    if (this.raw.length > this.capacity) this.halve();
    else this.appended();
  }

  clear(): void {
    this.raw.length = this.min.length = this.max.length = 0;
    this.counts = [];
    this.perBucket = 1;
  }

  /** Merges neighbours two by two, in place. */
  private halve(): void {
    const n = this.raw.length;
    let w = 0;
    for (let i = 0; i < n; i += 2, w++) {
      const j = Math.min(i + 1, n - 1);
      const ci = this.counts[i];
      const cj = j === i ? 0 : this.counts[j];
      this.raw[w] = { x: this.raw[j].x, y: cj ? (this.raw[i].y * ci + this.raw[j].y * cj) / (ci + cj) : this.raw[i].y };
      this.min[w] = { x: this.raw[j].x, y: Math.min(this.min[i].y, this.min[j].y) };
      this.max[w] = { x: this.raw[j].x, y: Math.max(this.max[i].y, this.max[j].y) };
      this.counts[w] = ci + cj;
    }
    this.raw.length = this.min.length = this.max.length = this.counts.length = w;
    this.perBucket *= 2;
    this.resummarised();
  }

  /** Hooks for a derived series: a bucket was appended, the last bucket changed, every bucket changed. */
  protected appended(): void {}
  protected changedLast(): void {}
  protected resummarised(): void {}
}

/**
 * A bucketed series and its smoothing: TensorBoard's ema = w·ema + (1−w)·y over the buckets' means, divided by
 * 1 − w^n (n = finite buckets so far) so the first points are not pulled towards the zero the average starts
 * from. A non-finite y (a diverged loss) is passed through and does not enter the average.
 */
export class SmoothedSeries extends BucketSeries {
  readonly smoothed: XY[] = [];
  // The average over every bucket but the last (the last one may still change).
  private ema = 0;
  private finiteCount = 0;

  constructor(private weight: number, capacity?: number) {
    super(capacity);
  }

  get smoothingWeight(): number {
    return this.weight;
  }

  /** A new weight re-smooths the whole series, in place, so charts holding these arrays see it. */
  setWeight(weight: number): void {
    if (weight === this.weight) return;
    this.weight = weight;
    this.resummarised();
  }

  override clear(): void {
    super.clear();
    this.smoothed.length = 0;
    this.ema = 0;
    this.finiteCount = 0;
  }

  protected override appended(): void {
    const n = this.raw.length;
    if (n >= 2) [this.ema, this.finiteCount] = this.step(this.ema, this.finiteCount, this.raw[n - 2].y);
    this.smoothed.push({ x: this.raw[n - 1].x, y: this.value(this.raw[n - 1].y) });
  }

  protected override changedLast(): void {
    const n = this.raw.length;
    this.smoothed[n - 1].x = this.raw[n - 1].x;
    this.smoothed[n - 1].y = this.value(this.raw[n - 1].y);
  }

  protected override resummarised(): void {
    this.ema = 0;
    this.finiteCount = 0;
    const n = this.raw.length;
    this.smoothed.length = n;
    for (let i = 0; i < n; i++) {
      if (i > 0) [this.ema, this.finiteCount] = this.step(this.ema, this.finiteCount, this.raw[i - 1].y);
      const p = this.smoothed[i] ?? (this.smoothed[i] = { x: 0, y: 0 });
      p.x = this.raw[i].x;
      p.y = this.value(this.raw[i].y);
    }
  }

  private step(ema: number, count: number, y: number): [number, number] {
    return Number.isFinite(y) ? [this.weight * ema + (1 - this.weight) * y, count + 1] : [ema, count];
  }

  /** The smoothed value at a bucket of mean y, after the buckets folded into the average so far. */
  private value(y: number): number {
    if (!Number.isFinite(y)) return y;
    const [ema, count] = this.step(this.ema, this.finiteCount, y);
    const w = this.weight;
    return ema / (w === 1 ? 1 : 1 - Math.pow(w, count));
  }
}

/** The same smoothing as a pure function, for one-off series. */
export function smooth(points: readonly XY[], weight: number): XY[] {
  const s = new SmoothedSeries(weight, 2 * Math.ceil(Math.max(1, points.length) / 2)); // every point its own bucket
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
