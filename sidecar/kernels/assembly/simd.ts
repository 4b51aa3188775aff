// SIMD helpers shared by the layer kernels.
//
// Register blocking follows what V8 (Node 20) compiles well: at most ~15 live v128 values per loop
// (accumulators + the values loaded in one iteration, which TurboFan schedules first), non-unrolled inner
// loops, loop-carried pointers (Binaryen sinks single-use loop invariants into loops otherwise).
// a*b + c: fused in the relaxed build, mul + add otherwise (RELAXED comes from `asc --use RELAXED=0|1`).
// @ts-ignore: decorator
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  // @ts-ignore: compile-time constant from --use
  if (RELAXED) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

// [sum(a), sum(b), sum(c), sum(d)]
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

// @ts-ignore: decorator
@inline export function hsum(a: v128): f32 {
  const t = f32x4.add(a, v128.shuffle<f32>(a, a, 2, 3, 0, 1));
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1);
}

export function zeroBytes(p: usize, bytes: usize): void {
  const z = f32x4.splat(0);
  for (let i: usize = 0; i < bytes; i += 16) v128.store(p + i, z);
}
