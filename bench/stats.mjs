// The benchmarks' statistics: medians, quantiles and ratios of runs taken in pairs. On this shared machine a cell's
// runs spread by a third within an hour, so the figures that decide a bar are medians of pairs run side by side, with a
// bootstrap interval that says how far the noise could move them.
import { rand } from './random.mjs';

/** The median of `xs`: the middle value, or the mean of the middle two for an even count (until 2026-12-05's
 *  twenty-ninth round it was the upper of the two, which read a bar's ten brackets up to half a gap high); NaN when
 *  there is none. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/** The `q` quantile of `xs` (nearest rank); NaN when there is none. */
export const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN; };

/** The median of each pair's over / under (pair i: under[i], then over[i] on the same machine a minute later), to 3
 *  places: the ratio of the medians mixes repeats that saw different machines. */
export const pairedRatio = (under, over) => +median(under.map((u, i) => over[i] / u)).toFixed(3);

/** Windows of one run timed in turn, `around[0]`, `between[0]`, `around[1]`, ... `around[n]` (one more around than
 *  between): each `between[i]` set against the mean of the two around it, as around / between. A drift of the
 *  machine's speed that is linear over a bracket cancels out of its ratio; set against one neighbour alone, it does
 *  not. */
export function bracketedRatios(around, between) {
  if (around.length !== between.length + 1) throw new Error(`bracketedRatios needs one more window around (${around.length}) than between (${between.length})`);
  return between.map((b, i) => (around[i] + around[i + 1]) / 2 / b);
}

/** The 5th and 95th percentiles of the median of `xs` resampled with replacement (a fixed seed: the same runs give the
 *  same interval). */
export function bootstrapMedian90(xs, draws = 4000) {
  const random = rand(0x9e3779b9);
  const medians = [];
  for (let d = 0; d < draws; d++) medians.push(median(xs.map(() => xs[Math.floor(random() * xs.length)])));
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(0.05 * draws)], medians[Math.floor(0.95 * draws)]];
}
