// The step histograms over parameter indices [start, end), in float32: mirrors sidecar/optim/stepHistogram.ts (the
// statement of what is counted; read it for the formulas) and the bins of sidecar/optim/stepBins.ts. Per index:
//   e = m / (sqrt(v) / sqrtBiasCorrection2 + eps) / biasCorrection1    (|e| counted into effectiveCounts)
//   update = lr * e + decoupled * p        (SGD, sgd != 0: update = lr * m, and no effective step)
//   |update| / |p| counted into ratioCounts (a zero update into the underflow bin, even on a zero parameter)
// A bin is found as LogBinner.index finds it: a u8 table indexed by the float32's exponent and top 4 mantissa bits
// gives the bin of the slot's smallest value; one comparison with the next edge (float32) finishes it.

// @ts-ignore: decorator
@inline function binOf(x: f32, table: usize, edges: usize, edgeCount: i32): i32 {
  const k = <i32>load<u8>(table + (reinterpret<u32>(x) >>> 19));
  return k < edgeCount && x >= load<f32>(edges + (<usize>k << 2)) ? k + 1 : k;
}

export function stepHistogram(params: usize, m: usize, v: usize, start: i32, end: i32,
  lr: f64, eps: f64, biasCorrection1: f64, sqrtBiasCorrection2: f64, decoupled: f64, sgd: i32,
  effectiveTable: usize, effectiveEdges: usize, effectiveEdgeCount: i32, effectiveCounts: usize,
  ratioTable: usize, ratioEdges: usize, ratioEdgeCount: i32, ratioCounts: usize): void {
  const lrf = <f32>lr, epsf = <f32>eps, bc1 = <f32>biasCorrection1, sbc2 = <f32>sqrtBiasCorrection2, dec = <f32>decoupled;
  for (let i = start; i < end; i++) {
    const off = <usize>i << 2;
    const p = load<f32>(params + off);
    const mi = load<f32>(m + off);
    let update: f32;
    if (sgd) {
      update = lrf * mi;
    } else {
      const e = mi / (Mathf.sqrt(load<f32>(v + off)) / sbc2 + epsf) / bc1;
      const b = binOf(Mathf.abs(e), effectiveTable, effectiveEdges, effectiveEdgeCount);
      store<i32>(effectiveCounts + (<usize>b << 2), load<i32>(effectiveCounts + (<usize>b << 2)) + 1);
      update = lrf * e + dec * p;
    }
    const u = Mathf.abs(update);
    const r = u == 0 ? 0 : binOf(u / Mathf.abs(p), ratioTable, ratioEdges, ratioEdgeCount);
    store<i32>(ratioCounts + (<usize>r << 2), load<i32>(ratioCounts + (<usize>r << 2)) + 1);
  }
}
