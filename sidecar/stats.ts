// Statistics of a comparison over seeds (issue 10, "The seed's comparison, over seeds"): per optimizer the
// mean test accuracy, its sample standard deviation and a 95% confidence interval from Student's t; the
// difference of two optimizers paired by seed; and the verdict in words. Pure functions with no Node
// import: the command line, the sidecar and the dashboard all use these.

/** Two-sided 95% quantiles of Student's t, t(0.975, df) for df = 1..30 (any statistics table). */
const T975 = [
  12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314,
  2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];
const Z975 = 1.959963984540054;

/**
 * t(0.975, df): the table above for df <= 30, beyond it the Cornish-Fisher expansion in 1/df around the normal
 * quantile (Abramowitz & Stegun 26.7.5), good to 1e-4 there. Non-integer df (none here) round down.
 */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`degrees of freedom must be >= 1, got ${df}`);
  const d = Math.floor(df);
  if (d <= T975.length) return T975[d - 1];
  if (!Number.isFinite(d)) return Z975;
  const x = Z975;
  const g1 = (x ** 3 + x) / 4;
  const g2 = (5 * x ** 5 + 16 * x ** 3 + 3 * x) / 96;
  const g3 = (3 * x ** 7 + 19 * x ** 5 + 17 * x ** 3 - 15 * x) / 384;
  const g4 = (79 * x ** 9 + 776 * x ** 7 + 1482 * x ** 5 - 1920 * x ** 3 - 945 * x) / 92160;
  return x + g1 / d + g2 / d ** 2 + g3 / d ** 3 + g4 / d ** 4;
}

export interface SampleSummary {
  n: number;
  mean: number | null;
  /** Sample standard deviation (n - 1); null below 2 values. */
  std: number | null;
  /** mean -+ t(0.975, n - 1) * std / sqrt(n); null below 2 values. */
  ci95: [number, number] | null;
}

export function summarize(values: readonly number[]): SampleSummary {
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null, ci95: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, std: null, ci95: null };
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = (tQuantile975(n - 1) * std) / Math.sqrt(n);
  return { n, mean, std, ci95: [mean - half, mean + half] };
}

/** One finished run of a comparison, as the command line prints it. */
export interface SeedResult {
  optimizer: string;
  seed: number;
  testAccuracy: number;
}

export interface PairedDifference extends SampleSummary {
  a: string;
  b: string;
  /** The seeds both optimizers finished, ascending: the pairs the difference is taken over. */
  seeds: number[];
}

export interface ComparisonSummary {
  optimizers: Record<string, SampleSummary>;
  /** The first optimizer minus the second, seed by seed; absent with a single optimizer. */
  difference?: PairedDifference;
  verdict: string;
}

/** a - b on each seed both have (a seed run twice counts its last result), summarised. */
export function pairedDifference(results: readonly SeedResult[], a: string, b: string): PairedDifference {
  const byOptimizer = (name: string) => new Map(results.filter((r) => r.optimizer === name).map((r) => [r.seed, r.testAccuracy]));
  const as = byOptimizer(a);
  const bs = byOptimizer(b);
  const seeds = [...as.keys()].filter((s) => bs.has(s)).sort((x, y) => x - y);
  return { a, b, seeds, ...summarize(seeds.map((s) => as.get(s)! - bs.get(s)!)) };
}

/** Per optimizer (in the order given) and the paired difference of the first two, with the verdict. */
export function compareResults(results: readonly SeedResult[], optimizers: readonly string[]): ComparisonSummary {
  const summaries: Record<string, SampleSummary> = {};
  for (const name of optimizers) summaries[name] = summarize(results.filter((r) => r.optimizer === name).map((r) => r.testAccuracy));
  if (optimizers.length < 2) {
    const only = optimizers[0];
    const s = summaries[only];
    return { optimizers: summaries, verdict: `only ${only} was trained (${s?.n ?? 0} seeds): there is nothing to compare it with` };
  }
  const difference = pairedDifference(results, optimizers[0], optimizers[1]);
  return { optimizers: summaries, difference, verdict: verdict(difference) };
}

const points = (x: number) => `${x >= 0 ? '+' : '-'}${Math.abs(100 * x).toFixed(2)}`;

/** Whether the 95% interval of the paired difference excludes zero, in words (accuracies in points). */
export function verdict(d: PairedDifference): string {
  if (d.n === 0 || d.mean === null) return `no seed has finished for both ${d.a} and ${d.b} yet: nothing to compare`;
  if (d.ci95 === null) return `${d.a} - ${d.b} = ${points(d.mean)} points on 1 seed: too few paired seeds for an interval (2 at least)`;
  const [lo, hi] = d.ci95;
  const head = `${d.a} - ${d.b} = ${points(d.mean)} points of test accuracy (95% CI ${points(lo)} to ${points(hi)}, paired over ${d.n} seeds)`;
  if (lo > 0) return `${head}: the interval excludes zero, so ${d.a} beats ${d.b} on this experiment`;
  if (hi < 0) return `${head}: the interval excludes zero, so ${d.b} beats ${d.a} on this experiment`;
  return `${head}: the interval includes zero, so these seeds do not show that either optimizer is better`;
}
