// The fixed log-scale bins of the step histograms (what each parameter's step is, issue 14 part 4), stated once:
// the sidecar counts into them, the protocol validates counts against them and the dashboard draws them. A bin
// scheme is `perDecade` bins per power of ten from 10^lo to 10^hi, plus an underflow bin first (below 10^lo, and
// exact zeros) and an overflow bin last (at or above 10^hi, and non-finite values). Bin i (1-based inside the
// range) holds x with edges[i-1] <= x < edges[i], edges[k] = 10^(lo + k/perDecade) as Math.pow computes it.
export interface LogBins {
  lo: number; // log10 of the first edge
  hi: number; // log10 of the last edge
  perDecade: number;
}

/** |m̂ / (√v̂ + ε)|: Adam's step over lr, parameter by parameter (Kingma & Ba section 2.1: about 1 or less). */
export const EFFECTIVE_STEP_BINS: LogBins = { lo: -6, hi: 1, perDecade: 4 };
/** |update| / |parameter|: the ratio practitioners keep near 1e-3. */
export const UPDATE_RATIO_BINS: LogBins = { lo: -8, hi: 0, perDecade: 4 };
/** Where the dashboard draws the guide line on the update-ratio heatmap. */
export const UPDATE_RATIO_GUIDE = 1e-3;

/** Counts per histogram: the bins in range plus the underflow and overflow bins. */
export function binCount(b: LogBins): number {
  return Math.round((b.hi - b.lo) * b.perDecade) + 2;
}

/** The edges between bins, float64: edges[0] = 10^lo .. edges[n] = 10^hi. */
export function binEdges(b: LogBins): Float64Array {
  const n = binCount(b) - 2;
  const edges = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) edges[k] = Math.pow(10, b.lo + k / b.perDecade);
  return edges;
}

/**
 * The bin of x >= 0 (0: underflow, edges.length: overflow), by the definition: a guess from log10, corrected
 * against the edges themselves, so the edges alone define the bins whatever log10 rounds to.
 */
export function binIndex(x: number, edges: Float64Array, lo: number, perDecade: number): number {
  const n = edges.length;
  if (!(x >= edges[0])) return x !== x ? n : 0; // below the range or zero; NaN counts as overflow
  if (x >= edges[n - 1]) return n;
  let k = Math.floor((Math.log10(x) - lo) * perDecade);
  if (k < 0) k = 0;
  else if (k > n - 2) k = n - 2;
  while (k > 0 && x < edges[k]) k--;
  while (k < n - 2 && x >= edges[k + 1]) k++;
  return k + 1;
}

/**
 * binIndex without a logarithm, for the 62,006 parameters twice per histogram: a table indexed by a float64's
 * exponent and top 4 mantissa bits gives the bin of the slot's smallest value; a slot spans a factor of at most
 * 17/16, less than a bin's 10^(1/perDecade) for perDecade <= 30, so it holds at most one edge and one comparison
 * finishes the job. The same bins as binIndex, exactly (tested).
 */
export class LogBinner {
  readonly edges: Float64Array;
  private readonly table: Uint8Array;
  private readonly word = new Float64Array(1);
  private readonly high = new Uint32Array(this.word.buffer, 4, 1);

  constructor(readonly bins: LogBins) {
    if (bins.perDecade > 30 || binCount(bins) > 255) throw new Error('LogBinner: at most 30 bins a decade and 253 bins');
    this.edges = binEdges(bins);
    this.table = new Uint8Array(1 << 15);
    const probe = new Float64Array(1);
    const probeHigh = new Uint32Array(probe.buffer, 4, 1);
    for (let key = 0; key < this.table.length; key++) {
      probeHigh[0] = key << 16;
      this.table[key] = binIndex(probe[0], this.edges, bins.lo, bins.perDecade);
    }
  }

  /** The bin of x >= 0 (little-endian hosts: every platform Node runs on). */
  index(x: number): number {
    this.word[0] = x;
    const k = this.table[this.high[0] >>> 16];
    return k < this.edges.length && x >= this.edges[k] ? k + 1 : k;
  }
}
