// The fully connected layers (fc1 400->120, fc2 120->84, fc3 84->10) over n samples, forward and backward.
// Row strides are nin*4 (inputs) and ys bytes (outputs).
import { fma, hsum, hsum4 } from './simd';

// Y[s][o] = b[o] + sum_k X[s][k] W[o][k] (optionally ReLU). nin % 4 == 0.
export function linearForward(w: usize, b: usize, x: usize, y: usize, n: i32, nin: i32, nout: i32, ys: usize, relu: bool): void {
  const xs = <usize>nin * 4;
  const zero = f32x4.splat(0);
  let s = 0;
  for (; s + 2 <= n; s += 2) {
    const x0 = x + <usize>s * xs;
    const x1 = x0 + xs;
    const yo = y + <usize>s * ys;
    let o = 0;
    for (; o + 4 <= nout; o += 4) {
      const w0 = w + <usize>o * xs;
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      let c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      for (let k: usize = 0; k < xs; k += 16) {
        const u = v128.load(x0 + k);
        const v = v128.load(x1 + k);
        const wa = w0 + k;
        let t = v128.load(wa);
        a0 = fma(u, t, a0);
        c0 = fma(v, t, c0);
        t = v128.load(wa + xs);
        a1 = fma(u, t, a1);
        c1 = fma(v, t, c1);
        t = v128.load(wa + 2 * xs);
        a2 = fma(u, t, a2);
        c2 = fma(v, t, c2);
        t = v128.load(wa + 3 * xs);
        a3 = fma(u, t, a3);
        c3 = fma(v, t, c3);
      }
      const bb = v128.load(b + <usize>o * 4);
      let r0 = f32x4.add(hsum4(a0, a1, a2, a3), bb);
      let r1 = f32x4.add(hsum4(c0, c1, c2, c3), bb);
      if (relu) {
        r0 = f32x4.pmax(r0, zero);
        r1 = f32x4.pmax(r1, zero);
      }
      v128.store(yo + <usize>o * 4, r0);
      v128.store(yo + ys + <usize>o * 4, r1);
    }
    for (; o < nout; o++) {
      const w0 = w + <usize>o * xs;
      let a0 = zero, c0 = zero;
      for (let k: usize = 0; k < xs; k += 16) {
        const t = v128.load(w0 + k);
        a0 = fma(v128.load(x0 + k), t, a0);
        c0 = fma(v128.load(x1 + k), t, c0);
      }
      const bb = load<f32>(b + <usize>o * 4);
      let r0 = hsum(a0) + bb;
      let r1 = hsum(c0) + bb;
      if (relu) {
        r0 = max(r0, 0);
        r1 = max(r1, 0);
      }
      store<f32>(yo + <usize>o * 4, r0);
      store<f32>(yo + ys + <usize>o * 4, r1);
    }
  }
  if (s < n) {
    const x0 = x + <usize>s * xs;
    const yo = y + <usize>s * ys;
    let o = 0;
    for (; o + 4 <= nout; o += 4) {
      const w0 = w + <usize>o * xs;
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      for (let k: usize = 0; k < xs; k += 16) {
        const u = v128.load(x0 + k);
        const wa = w0 + k;
        a0 = fma(u, v128.load(wa), a0);
        a1 = fma(u, v128.load(wa + xs), a1);
        a2 = fma(u, v128.load(wa + 2 * xs), a2);
        a3 = fma(u, v128.load(wa + 3 * xs), a3);
      }
      let r0 = f32x4.add(hsum4(a0, a1, a2, a3), v128.load(b + <usize>o * 4));
      if (relu) r0 = f32x4.pmax(r0, zero);
      v128.store(yo + <usize>o * 4, r0);
    }
    for (; o < nout; o++) {
      const w0 = w + <usize>o * xs;
      let a0 = zero;
      for (let k: usize = 0; k < xs; k += 16) a0 = fma(v128.load(x0 + k), v128.load(w0 + k), a0);
      let r0 = hsum(a0) + load<f32>(b + <usize>o * 4);
      if (relu) r0 = max(r0, 0);
      store<f32>(yo + <usize>o * 4, r0);
    }
  }
}

// dW[o][k] = sum_s dZ[s][o] X[s][k]; dB[o] = sum_s dZ[s][o] (overwrites). nout even, nin % 4 == 0.
export function linearBackwardW(dz: usize, zs: usize, x: usize, n: i32, nin: i32, nout: i32, dw: usize, db: usize): void {
  const xs = <usize>nin * 4;
  const zero = f32x4.splat(0);
  for (let o = 0; o < nout; o += 2) {
    const gz = dz + <usize>o * 4;
    let bs0: f32 = 0, bs1: f32 = 0;
    for (let s = 0; s < n; s++) {
      bs0 += load<f32>(gz + <usize>s * zs);
      bs1 += load<f32>(gz + <usize>s * zs, 4);
    }
    store<f32>(db + <usize>o * 4, bs0);
    store<f32>(db + <usize>o * 4, bs1, 4);
    const w0 = dw + <usize>o * xs;
    const w1 = w0 + xs;
    let k: usize = 0;
    for (; k + 64 <= xs; k += 64) {
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      let c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      let px = x + k;
      let pg = gz;
      for (let s = 0; s < n; s++) {
        const g0 = v128.load32_splat(pg);
        const g1 = v128.load32_splat(pg, 4);
        let t = v128.load(px);
        a0 = fma(g0, t, a0);
        c0 = fma(g1, t, c0);
        t = v128.load(px, 16);
        a1 = fma(g0, t, a1);
        c1 = fma(g1, t, c1);
        t = v128.load(px, 32);
        a2 = fma(g0, t, a2);
        c2 = fma(g1, t, c2);
        t = v128.load(px, 48);
        a3 = fma(g0, t, a3);
        c3 = fma(g1, t, c3);
        px += xs;
        pg += zs;
      }
      v128.store(w0 + k, a0);
      v128.store(w0 + k, a1, 16);
      v128.store(w0 + k, a2, 32);
      v128.store(w0 + k, a3, 48);
      v128.store(w1 + k, c0);
      v128.store(w1 + k, c1, 16);
      v128.store(w1 + k, c2, 32);
      v128.store(w1 + k, c3, 48);
    }
    for (; k < xs; k += 16) {
      let a0 = zero, c0 = zero;
      let px = x + k;
      let pg = gz;
      for (let s = 0; s < n; s++) {
        const t = v128.load(px);
        a0 = fma(v128.load32_splat(pg), t, a0);
        c0 = fma(v128.load32_splat(pg, 4), t, c0);
        px += xs;
        pg += zs;
      }
      v128.store(w0 + k, a0);
      v128.store(w1 + k, c0);
    }
  }
}

// dX[s][k] = sum_o dZ[s][o] W[o][k], then (if mask != 0) zeroed where mask[s][k] <= 0 (ReLU backward).
// dX and mask have row stride nin*4.
export function linearBackwardX(dz: usize, zs: usize, w: usize, n: i32, nin: i32, nout: i32, dx: usize, mask: usize): void {
  const xs = <usize>nin * 4;
  const zero = f32x4.splat(0);
  let s = 0;
  for (; s + 2 <= n; s += 2) {
    const g = dz + <usize>s * zs;
    const d0 = dx + <usize>s * xs;
    const d1 = d0 + xs;
    const m0 = mask + <usize>s * xs;
    const m1 = m0 + xs;
    let k: usize = 0;
    for (; k + 64 <= xs; k += 64) {
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      let c0 = zero, c1 = zero, c2 = zero, c3 = zero;
      let pw = w + k;
      let pg = g;
      for (let o = 0; o < nout; o++) {
        const g0 = v128.load32_splat(pg);
        const g1 = v128.load32_splat(pg + zs);
        let t = v128.load(pw);
        a0 = fma(g0, t, a0);
        c0 = fma(g1, t, c0);
        t = v128.load(pw, 16);
        a1 = fma(g0, t, a1);
        c1 = fma(g1, t, c1);
        t = v128.load(pw, 32);
        a2 = fma(g0, t, a2);
        c2 = fma(g1, t, c2);
        t = v128.load(pw, 48);
        a3 = fma(g0, t, a3);
        c3 = fma(g1, t, c3);
        pw += xs;
        pg += 4;
      }
      if (mask) {
        a0 = v128.and(a0, f32x4.gt(v128.load(m0 + k), zero));
        a1 = v128.and(a1, f32x4.gt(v128.load(m0 + k, 16), zero));
        a2 = v128.and(a2, f32x4.gt(v128.load(m0 + k, 32), zero));
        a3 = v128.and(a3, f32x4.gt(v128.load(m0 + k, 48), zero));
        c0 = v128.and(c0, f32x4.gt(v128.load(m1 + k), zero));
        c1 = v128.and(c1, f32x4.gt(v128.load(m1 + k, 16), zero));
        c2 = v128.and(c2, f32x4.gt(v128.load(m1 + k, 32), zero));
        c3 = v128.and(c3, f32x4.gt(v128.load(m1 + k, 48), zero));
      }
      v128.store(d0 + k, a0);
      v128.store(d0 + k, a1, 16);
      v128.store(d0 + k, a2, 32);
      v128.store(d0 + k, a3, 48);
      v128.store(d1 + k, c0);
      v128.store(d1 + k, c1, 16);
      v128.store(d1 + k, c2, 32);
      v128.store(d1 + k, c3, 48);
    }
    for (; k < xs; k += 16) {
      let a0 = zero, c0 = zero;
      let pw = w + k;
      let pg = g;
      for (let o = 0; o < nout; o++) {
        const t = v128.load(pw);
        a0 = fma(v128.load32_splat(pg), t, a0);
        c0 = fma(v128.load32_splat(pg + zs), t, c0);
        pw += xs;
        pg += 4;
      }
      if (mask) {
        a0 = v128.and(a0, f32x4.gt(v128.load(m0 + k), zero));
        c0 = v128.and(c0, f32x4.gt(v128.load(m1 + k), zero));
      }
      v128.store(d0 + k, a0);
      v128.store(d1 + k, c0);
    }
  }
  if (s < n) {
    const g = dz + <usize>s * zs;
    const d0 = dx + <usize>s * xs;
    const m0 = mask + <usize>s * xs;
    let k: usize = 0;
    for (; k + 64 <= xs; k += 64) {
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      let pw = w + k;
      let pg = g;
      for (let o = 0; o < nout; o++) {
        const g0 = v128.load32_splat(pg);
        a0 = fma(g0, v128.load(pw), a0);
        a1 = fma(g0, v128.load(pw, 16), a1);
        a2 = fma(g0, v128.load(pw, 32), a2);
        a3 = fma(g0, v128.load(pw, 48), a3);
        pw += xs;
        pg += 4;
      }
      if (mask) {
        a0 = v128.and(a0, f32x4.gt(v128.load(m0 + k), zero));
        a1 = v128.and(a1, f32x4.gt(v128.load(m0 + k, 16), zero));
        a2 = v128.and(a2, f32x4.gt(v128.load(m0 + k, 32), zero));
        a3 = v128.and(a3, f32x4.gt(v128.load(m0 + k, 48), zero));
      }
      v128.store(d0 + k, a0);
      v128.store(d0 + k, a1, 16);
      v128.store(d0 + k, a2, 32);
      v128.store(d0 + k, a3, 48);
    }
    for (; k < xs; k += 16) {
      let a0 = zero;
      let pw = w + k;
      let pg = g;
      for (let o = 0; o < nout; o++) {
        a0 = fma(v128.load32_splat(pg), v128.load(pw), a0);
        pw += xs;
        pg += 4;
      }
      if (mask) a0 = v128.and(a0, f32x4.gt(v128.load(m0 + k), zero));
      v128.store(d0 + k, a0);
    }
  }
}
