// conv1 (3->6, k5, 32x32 -> 28x28), its ReLU and 2x2 max pool, forward and backward (the weight and bias
// gradients; the input gradient of conv1 is never needed).
//
// Backward uses the sparsity that max pooling creates: each pooled output passes its gradient to exactly one
// conv output (its argmax), and only when the ReLU'd max is > 0. So the weight gradient is a sum over the
// pooled outputs of g * (the input patch at the argmax), a quarter of the dense work. Patches are 5 row vectors
// (kw 0..3) plus the kw = 4 column read from a transposed copy of the input, so the loop needs 7 accumulators
// and does not spill.
import { A1G_CUM, A1G_SIZE, FIXED, G1_CUM, G1_SIZE } from './layout';
import { CONV1_BIAS, CONV1_WEIGHT } from './parameters';
import { fma, hsum, zeroBytes } from './simd';

// Per call: conv1 weights splatted to vectors, W1S[oc][k] (k = c*25 + kh*5 + kw), and for each tap k the
// byte distance in X from tap k to tap k+1, TAP[k] (taps at (c*1024 + kh*32 + kw)*4).
export function prepareConv1(params: usize, w1s: usize, tap: usize): void {
  for (let k: usize = 0; k < 450; k++) v128.store(w1s + k * 16, v128.load32_splat(params + CONV1_WEIGHT + k * 4));
  for (let k: usize = 0; k < 75; k++) {
    const c = k / 25, kh = (k / 5) % 5, kw = k % 5;
    const c1 = (k + 1) / 25, kh1 = ((k + 1) / 5) % 5, kw1 = (k + 1) % 5;
    store<i32>(tap + k * 4, <i32>(((c1 * 1024 + kh1 * 32 + kw1) - (c * 1024 + kh * 32 + kw)) * 4));
  }
}

// conv1: X [3][32][32] -> Y1 [6][28][28] (bias added, before ReLU). Lanes = 4 neighbouring x (a row of 28
// is 7 vectors); register block = 2 output channels x 4 vectors (each with its own input pointer, so a
// block may span two rows); one tap per inner-loop iteration.
export function conv1Forward(params: usize, w1s: usize, tap: usize, x: usize, y1: usize): void {
  let row: usize = 0, col: usize = 0; // position of vector v
  for (let v: usize = 0; v < 196; v += 4) {
    // input pointers of vectors v..v+3
    const i0 = x + (row * 32 + col) * 4;
    col += 4;
    if (col == 28) { col = 0; row++; }
    const i1 = x + (row * 32 + col) * 4;
    col += 4;
    if (col == 28) { col = 0; row++; }
    const i2 = x + (row * 32 + col) * 4;
    col += 4;
    if (col == 28) { col = 0; row++; }
    const i3 = x + (row * 32 + col) * 4;
    col += 4;
    if (col == 28) { col = 0; row++; }
    for (let op: usize = 0; op < 6; op += 2) {
      const bb0 = v128.load32_splat(params + CONV1_BIAS + op * 4);
      const bb1 = v128.load32_splat(params + CONV1_BIAS + op * 4, 4);
      let a0 = bb0, a1 = bb0, a2 = bb0, a3 = bb0;
      let c0 = bb1, c1 = bb1, c2 = bb1, c3 = bb1;
      let pw = w1s + op * 1200;
      let d0 = i0, d1 = i1, d2 = i2, d3 = i3;
      for (let t: usize = 0; t < 300; t += 4) {
        const w0 = v128.load(pw);
        const w1 = v128.load(pw, 1200);
        let d = v128.load(d0);
        a0 = fma(w0, d, a0);
        c0 = fma(w1, d, c0);
        d = v128.load(d1);
        a1 = fma(w0, d, a1);
        c1 = fma(w1, d, c1);
        d = v128.load(d2);
        a2 = fma(w0, d, a2);
        c2 = fma(w1, d, c2);
        d = v128.load(d3);
        a3 = fma(w0, d, a3);
        c3 = fma(w1, d, c3);
        const step = <usize>load<i32>(tap + t);
        d0 += step;
        d1 += step;
        d2 += step;
        d3 += step;
        pw += 16;
      }
      const o = y1 + op * 3136 + v * 16;
      v128.store(o, a0, 0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
      v128.store(o, c0, 3136);
      v128.store(o, c1, 3152);
      v128.store(o, c2, 3168);
      v128.store(o, c3, 3184);
    }
  }
}

// ReLU + 2x2 max pool of Y1 -> P1 [6][14][14] (and its transpose P1T [6][x][y]), and for the argmax the
// addresses of the conv1 patch in X (x + (y*32+x)*4) and in XT (xt + (x*32+y)*4), interleaved. PyTorch's
// tie rule: the first maximum in window scan order wins (strict >).
export function pool1(y1: usize, p1: usize, p1t: usize, arg: usize, x: usize, xt: usize): void {
  const zero = f32x4.splat(0);
  const offB = i32x4.splat(4), offC = i32x4.splat(128), offD = i32x4.splat(132);
  const lane = i32x4(0, 8, 16, 24);
  for (let c: usize = 0; c < 6; c++) {
    for (let i: usize = 0; i < 14; i++) {
      const r0 = y1 + (c * 784 + i * 56) * 4;
      const r1 = r0 + 112;
      const po = p1 + (c * 196 + i * 14) * 4;
      const ao = arg + (c * 196 + i * 14) * 8;
      const rowBase = i32x4.add(lane, i32x4.splat(<i32>(i * 256)));
      for (let j: usize = 0; j < 16; j += 4) { // pooled columns j..j+3 (12, 13 only in the last round)
        let u0: v128, u1: v128, w0: v128, w1: v128;
        u0 = v128.load(r0 + j * 8);
        w0 = v128.load(r1 + j * 8);
        if (j < 12) {
          u1 = v128.load(r0 + j * 8, 16);
          w1 = v128.load(r1 + j * 8, 16);
        } else {
          u1 = u0;
          w1 = w0;
        }
        const a = v128.shuffle<f32>(u0, u1, 0, 2, 4, 6);
        const b = v128.shuffle<f32>(u0, u1, 1, 3, 5, 7);
        const cc = v128.shuffle<f32>(w0, w1, 0, 2, 4, 6);
        const d = v128.shuffle<f32>(w0, w1, 1, 3, 5, 7);
        let m = a;
        let off = i32x4.splat(0);
        let gt = f32x4.gt(b, m);
        m = v128.bitselect(b, m, gt);
        off = v128.bitselect(offB, off, gt);
        gt = f32x4.gt(cc, m);
        m = v128.bitselect(cc, m, gt);
        off = v128.bitselect(offC, off, gt);
        gt = f32x4.gt(d, m);
        m = v128.bitselect(d, m, gt);
        off = v128.bitselect(offD, off, gt);
        m = f32x4.pmax(m, zero); // ReLU (NaN stays NaN)
        off = i32x4.add(off, i32x4.add(rowBase, i32x4.splat(<i32>(j * 8))));
        // the same patch in XT: (x*32 + y)*4 for off = (y*32 + x)*4
        const offT = v128.or(i32x4.shl(v128.and(off, i32x4.splat(124)), 5), i32x4.shl(i32x4.shr_u(off, 7), 2));
        const ax = i32x4.add(off, i32x4.splat(<i32>x));
        const axt = i32x4.add(offT, i32x4.splat(<i32>xt));
        const alo = v128.shuffle<i32>(ax, axt, 0, 4, 1, 5);
        const pt = p1t + (c * 196 + j * 14 + i) * 4;
        store<f32>(pt, f32x4.extract_lane(m, 0));
        store<f32>(pt, f32x4.extract_lane(m, 1), 56);
        if (j < 12) {
          v128.store(po + j * 4, m);
          v128.store(ao + j * 8, alo);
          v128.store(ao + j * 8, v128.shuffle<i32>(ax, axt, 2, 6, 3, 7), 16);
          store<f32>(pt, f32x4.extract_lane(m, 2), 112);
          store<f32>(pt, f32x4.extract_lane(m, 3), 168);
        } else {
          v128.store64_lane(po + j * 4, m, 0);
          v128.store(ao + j * 8, alo);
        }
      }
    }
  }
  zeroBytes(p1 + 4704, 32);
  zeroBytes(p1t + 4704, 32);
}



// conv1 weight and bias gradients (overwrite): dense over all pool1 outputs of the shard (the ReLU passes
// nearly all of them), patch = 5 row vectors (kw 0..3) from X plus the kw = 4 column from XT.
export function conv1WeightGrad(grads: usize, n: i32, N: usize, scratch: usize): void {
  const base = scratch + FIXED;
  const z = f32x4.splat(0);
  for (let oc: usize = 0; oc < 6; oc++) {
    let bs = z;
    for (let s: usize = 0; s < <usize>n; s++) {
      const gs = base + N * G1_CUM + s * G1_SIZE + oc * 784;
      for (let e: usize = 0; e < 784; e += 16) bs = f32x4.add(bs, v128.load(gs + e));
    }
    store<f32>(grads + CONV1_BIAS + oc * 4, hsum(bs));
    for (let c: usize = 0; c < 3; c++) {
      let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, t = z, u = z;
      const co = c * 4096;
      for (let s: usize = 0; s < <usize>n; s++) {
        // loop-carried pointers (so that nothing is recomputed inside the loop)
        let pg = base + N * G1_CUM + s * G1_SIZE + oc * 784;
        let pa = base + N * A1G_CUM + s * A1G_SIZE + oc * 1568;
        const end = pg + 784;
        for (; pg < end; pg += 4) {
          const g = v128.load32_splat(pg);
          const px = <usize>load<u32>(pa) + co; // absolute address of the patch in X
          const pt = <usize>load<u32>(pa, 4) + co; // and in XT
          a0 = fma(g, v128.load(px, 0), a0);
          a1 = fma(g, v128.load(px, 128), a1);
          a2 = fma(g, v128.load(px, 256), a2);
          a3 = fma(g, v128.load(px, 384), a3);
          a4 = fma(g, v128.load(px, 512), a4);
          t = fma(g, v128.load(pt, 512), t);
          u = fma(g, v128.load(pt, 516), u);
          pa += 8;
        }
      }
      const o = grads + CONV1_WEIGHT + (oc * 3 + c) * 100;
      v128.store(o, a0, 0);
      v128.store(o, a1, 20);
      v128.store(o, a2, 40);
      v128.store(o, a3, 60);
      v128.store(o, a4, 80);
      store<f32>(o, f32x4.extract_lane(t, 0), 16);
      store<f32>(o, f32x4.extract_lane(t, 1), 36);
      store<f32>(o, f32x4.extract_lane(t, 2), 56);
      store<f32>(o, f32x4.extract_lane(t, 3), 76);
      store<f32>(o, f32x4.extract_lane(u, 3), 96);
    }
  }
}
