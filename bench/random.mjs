// Deterministic pseudo-random numbers in [0, 1) for the benchmarks' synthetic inputs (mulberry32; the product's
// own generator is sidecar/rng.ts, which these plain scripts cannot import before a build).
export function rand(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
