// conv2 (6->16, k5, 14x14 -> 10x10), its ReLU and 2x2 max pool, forward and backward: the weight and bias
// gradients, and the input gradient dP1 that conv1's backward starts from.
//
// As for conv1, the pooled outputs' gradients reach one conv output each (the argmax); conv2's are gathered
// into a compacted list (the ReLU blocks about a quarter). The input gradient sums g * W2[oc] per conv2
// position first and then adds that 6x5x5 block into dP1 once per position.
import { A1_CUM, A1_SIZE, A2G_CUM, A2G_SIZE, DA1_CUM, DA1_SIZE, FIXED, G1_CUM, G1_SIZE, L2_CUM, L2_SIZE, P1T_CUM, P1T_SIZE, P1_CUM, P1_SIZE, S_BKN, S_BKT, S_CNT, S_COMB, S_W2P } from './layout';
import { CONV2_BIAS, CONV2_WEIGHT } from './parameters';
import { fma, zeroBytes } from './simd';

// conv2 weights with rows padded to 160 floats (zeros), for the conv2 input gradient.
export function padConv2(params: usize, w2p: usize): void {
  const z = f32x4.splat(0);
  for (let oc: usize = 0; oc < 16; oc++) {
    const src = params + CONV2_WEIGHT + oc * 600;
    const dst = w2p + oc * 640;
    for (let k: usize = 0; k < 144; k += 4) v128.store(dst + k * 4, v128.load(src + k * 4));
    v128.store(dst, v128.load(src, 576), 576);
    v128.store(dst, z, 592); // floats 148..151: 148, 149 are real, set below
    store<f32>(dst, load<f32>(src, 592), 592);
    store<f32>(dst, load<f32>(src, 596), 596);
    v128.store(dst, z, 608);
    v128.store(dst, z, 624);
  }
}

// conv2 weights [16][150] -> [150][16] so that vector lanes run over output channels.
export function transposeConv2(params: usize, w2t: usize): void {
  for (let oc: usize = 0; oc < 16; oc++) {
    const src = params + CONV2_WEIGHT + oc * 600;
    for (let k: usize = 0; k < 150; k++) store<f32>(w2t + k * 64 + oc * 4, load<f32>(src + k * 4));
  }
}

// conv2: P1 [6][14][14] -> Y2 [100][16] (bias added, before ReLU). Lanes = output channels;
// register block = 16 channels x 2 neighbouring positions.
export function conv2Forward(params: usize, w2t: usize, p1: usize, y2: usize): void {
  const b0 = v128.load(params + CONV2_BIAS, 0);
  const b1 = v128.load(params + CONV2_BIAS, 16);
  const b2 = v128.load(params + CONV2_BIAS, 32);
  const b3 = v128.load(params + CONV2_BIAS, 48);
  for (let oy: usize = 0; oy < 10; oy++) {
    for (let ox: usize = 0; ox < 10; ox += 2) {
      let a0 = b0, a1 = b1, a2 = b2, a3 = b3;
      let c0 = b0, c1 = b1, c2 = b2, c3 = b3;
      let pd = p1 + (oy * 14 + ox) * 4;
      let pw = w2t;
      for (let r = 0; r < 30; r++) { // r = c*5 + kh
        for (let kw = 0; kw < 5; kw++) {
          const s0 = v128.load32_splat(pd);
          const s1 = v128.load32_splat(pd, 4);
          let w = v128.load(pw);
          a0 = fma(s0, w, a0);
          c0 = fma(s1, w, c0);
          w = v128.load(pw, 16);
          a1 = fma(s0, w, a1);
          c1 = fma(s1, w, c1);
          w = v128.load(pw, 32);
          a2 = fma(s0, w, a2);
          c2 = fma(s1, w, c2);
          w = v128.load(pw, 48);
          a3 = fma(s0, w, a3);
          c3 = fma(s1, w, c3);
          pd += 4;
          pw += 64;
        }
        pd += (r % 5 == 4) ? <usize>(56 - 20 + 784 - 5 * 56) : <usize>(56 - 20);
      }
      const o = y2 + (oy * 10 + ox) * 64;
      v128.store(o, a0, 0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
      v128.store(o, c0, 64);
      v128.store(o, c1, 80);
      v128.store(o, c2, 96);
      v128.store(o, c3, 112);
    }
  }
}

// ReLU + 2x2 max pool of Y2 -> A1 [16][5][5] (C,H,W) and the argmax as byte offset (y*14+x)*4 in P1.
export function pool2(y2: usize, a1: usize, arg: usize): void {
  const zero = f32x4.splat(0);
  const offB = i32x4.splat(4), offC = i32x4.splat(56), offD = i32x4.splat(60);
  for (let i: usize = 0; i < 5; i++) {
    for (let j: usize = 0; j < 5; j++) {
      const q = y2 + ((i * 2) * 10 + j * 2) * 64;
      const base = i32x4.splat(<i32>(((i * 2) * 14 + j * 2) * 4));
      const p = i * 5 + j;
      for (let v: usize = 0; v < 4; v++) {
        let m = v128.load(q + v * 16);
        let off = i32x4.splat(0);
        let t = v128.load(q + v * 16, 64);
        let gt = f32x4.gt(t, m);
        m = v128.bitselect(t, m, gt);
        off = v128.bitselect(offB, off, gt);
        t = v128.load(q + v * 16, 640);
        gt = f32x4.gt(t, m);
        m = v128.bitselect(t, m, gt);
        off = v128.bitselect(offC, off, gt);
        t = v128.load(q + v * 16, 704);
        gt = f32x4.gt(t, m);
        m = v128.bitselect(t, m, gt);
        off = v128.bitselect(offD, off, gt);
        m = f32x4.pmax(m, zero); // ReLU (NaN stays NaN)
        off = i32x4.add(off, base);
        const o = (v * 4 * 25 + p) * 4;
        store<f32>(a1 + o, f32x4.extract_lane(m, 0));
        store<f32>(a1 + o, f32x4.extract_lane(m, 1), 100);
        store<f32>(a1 + o, f32x4.extract_lane(m, 2), 200);
        store<f32>(a1 + o, f32x4.extract_lane(m, 3), 300);
        store<i32>(arg + o, i32x4.extract_lane(off, 0));
        store<i32>(arg + o, i32x4.extract_lane(off, 1), 100);
        store<i32>(arg + o, i32x4.extract_lane(off, 2), 200);
        store<i32>(arg + o, i32x4.extract_lane(off, 3), 300);
      }
    }
  }
}


// Conv backward for the shard: per sample, the conv2 gradient entries (g, patch address in P1 and P1T) per
// output channel and the conv2 input gradient dP1 (scatter), then the conv1 entries (g, patch address in X
// and XT). Entries are 16 bytes; lists hold the whole shard, sample after sample.
export function convBackwardEntries(params: usize, n: i32, N: usize, scratch: usize): void {
  const fixed = scratch;
  const base = scratch + FIXED;
  const a1 = base + N * A1_CUM;
  const da1 = base + N * DA1_CUM;
  const cnt2 = fixed + S_CNT;
  zeroBytes(cnt2, 64);
  const w2p = fixed + S_W2P;
  const bkt = fixed + S_BKT;
  const bkn = fixed + S_BKN;
  const comb = fixed + S_COMB;
  padConv2(params, w2p);
  const l2 = base + N * L2_CUM;
  const l2Cap = N * L2_SIZE / 16;
  for (let s = 0; s < n; s++) {
    const su = <usize>s;
    const p1 = base + N * P1_CUM + su * P1_SIZE;
    const p1t = base + N * P1T_CUM + su * P1T_SIZE;
    const dp1 = base + N * G1_CUM + su * G1_SIZE;
    const sa1 = a1 + su * A1_SIZE;
    const sda1 = da1 + su * DA1_SIZE;
    const sarg2 = base + N * A2G_CUM + su * A2G_SIZE;

    // conv2 entries (branch-free compaction)
    for (let oc: usize = 0; oc < 16; oc++) {
      const lst = l2 + oc * l2Cap;
      let q = lst + <usize>load<i32>(cnt2 + oc * 4) * 16;
      for (let p: usize = 0; p < 25; p++) {
        const e = (oc * 25 + p) * 4;
        const g = load<f32>(sda1 + e);
        const off = <usize>load<i32>(sarg2 + e);
        const y = off / 56;
        const x = (off >> 2) - y * 14;
        store<f32>(q, g);
        store<u32>(q, <u32>(p1 + off), 4);
        store<u32>(q, <u32>(p1t + (x * 14 + y) * 4), 8);
        q += select<usize>(16, 0, load<f32>(sa1 + e) > 0 && g != 0);
      }
      store<i32>(cnt2 + oc * 4, <i32>((q - lst) >> 4));
    }

    // dP1 = conv2 input gradient: per pool window, per conv2 position of the window, the sum over the
    // channels whose argmax is there of g * W2[oc], then added into dP1 (5x5 patch per input channel).
    zeroBytes(dp1, P1_SIZE);
    for (let p: usize = 0; p < 25; p++) {
      const i = p / 5;
      const j = p - i * 5;
      const wbase = (i * 28 + j * 2) * 4; // byte offset in P1 of the window's top-left conv2 position
      zeroBytes(bkn, 16);
      for (let oc: usize = 0; oc < 16; oc++) {
        const e = (oc * 25 + p) * 4;
        const g = load<f32>(sda1 + e);
        const code = <usize>load<i32>(sarg2 + e) - wbase; // 0, 4, 56 or 60
        const d = ((code >> 2) & 1) | (select<usize>(2, 0, code > 4));
        const k = <usize>load<i32>(bkn + d * 4);
        const q = bkt + d * 256 + k * 16;
        store<f32>(q, g);
        store<u32>(q, <u32>(oc * 640), 4);
        store<i32>(bkn + d * 4, <i32>(k + <usize>(load<f32>(sa1 + e) > 0 && g != 0)));
      }
      for (let d: usize = 0; d < 4; d++) {
        const k = <usize>load<i32>(bkn + d * 4);
        if (k == 0) continue;
        const lst = bkt + d * 256;
        const lend = lst + k * 16;
        // comb = sum over the bucket of g * W2P[oc]: groups of 4, 3, 2, 1 entries, each a fixed-length loop
        // over the 40 vectors (few data-dependent branches: the bucket sizes are small and random)
        let q = lst;
        let first = true;
        for (; q + 64 <= lend; q += 64) {
          const g0 = v128.load32_splat(q), g1 = v128.load32_splat(q, 16);
          const g2 = v128.load32_splat(q, 32), g3 = v128.load32_splat(q, 48);
          const w0 = w2p + <usize>load<u32>(q, 4), w1 = w2p + <usize>load<u32>(q, 20);
          const w2 = w2p + <usize>load<u32>(q, 36), w3 = w2p + <usize>load<u32>(q, 52);
          const keep = first ? v128.splat<i32>(0) : v128.splat<i32>(-1);
          for (let o: usize = 0; o < 640; o += 16) {
            let acc = v128.and(v128.load(comb + o), keep);
            acc = fma(g0, v128.load(w0 + o), acc);
            acc = fma(g1, v128.load(w1 + o), acc);
            acc = fma(g2, v128.load(w2 + o), acc);
            acc = fma(g3, v128.load(w3 + o), acc);
            v128.store(comb + o, acc);
          }
          first = false;
        }
        const rest = (lend - q) >> 4;
        if (rest != 0) {
          const keep = first ? v128.splat<i32>(0) : v128.splat<i32>(-1);
          const g0 = v128.load32_splat(q);
          const w0 = w2p + <usize>load<u32>(q, 4);
          if (rest == 1) {
            for (let o: usize = 0; o < 640; o += 16) {
              v128.store(comb + o, fma(g0, v128.load(w0 + o), v128.and(v128.load(comb + o), keep)));
            }
          } else {
            const g1 = v128.load32_splat(q, 16);
            const w1 = w2p + <usize>load<u32>(q, 20);
            if (rest == 2) {
              for (let o: usize = 0; o < 640; o += 16) {
                let acc = v128.and(v128.load(comb + o), keep);
                acc = fma(g0, v128.load(w0 + o), acc);
                acc = fma(g1, v128.load(w1 + o), acc);
                v128.store(comb + o, acc);
              }
            } else {
              const g2 = v128.load32_splat(q, 32);
              const w2 = w2p + <usize>load<u32>(q, 36);
              for (let o: usize = 0; o < 640; o += 16) {
                let acc = v128.and(v128.load(comb + o), keep);
                acc = fma(g0, v128.load(w0 + o), acc);
                acc = fma(g1, v128.load(w1 + o), acc);
                acc = fma(g2, v128.load(w2 + o), acc);
                v128.store(comb + o, acc);
              }
            }
          }
        }
        // dP1[c][y+kh][x+kw] += comb[c][kh][kw]
        let pd = dp1 + wbase + select<usize>(4, 0, (d & 1) != 0) + select<usize>(56, 0, d >= 2);
        let pc = comb;
        for (let c = 0; c < 6; c++) {
          for (let kh = 0; kh < 5; kh++) {
            v128.store(pd, f32x4.add(v128.load(pd), v128.load(pc)));
            store<f32>(pd, load<f32>(pd, 16) + load<f32>(pc, 16), 16);
            pc += 20;
            pd += 56;
          }
          pd += 784 - 280;
        }
      }
    }

    // d loss / d conv1 output at the argmax: dP1 where the pooled max is > 0 (ReLU), else 0
    const z = f32x4.splat(0);
    for (let e: usize = 0; e < 4704; e += 16) {
      v128.store(dp1 + e, v128.and(v128.load(dp1 + e), f32x4.gt(v128.load(p1 + e), z)));
    }
  }
}

// conv2 weight and bias gradients (overwrite) from the entry lists. Per (oc, c) and entry: the 5x5 patch
// as 5 row vectors (kw 0..3) from P1 and the kw = 4 column from P1T (kh 0..3, and kh 1..4 for kh = 4):
// 7 accumulators, so nothing spills.
export function conv2WeightGrad(grads: usize, N: usize, scratch: usize): void {
  const cnt2 = scratch + S_CNT;
  const l2 = scratch + FIXED + N * L2_CUM;
  const l2Cap = N * L2_SIZE / 16;
  const z = f32x4.splat(0);
  for (let oc: usize = 0; oc < 16; oc++) {
    const ne = <usize>load<i32>(cnt2 + oc * 4);
    const lst = l2 + oc * l2Cap;
    const lend = lst + ne * 16;
    let bsum: f32 = 0;
    for (let q = lst; q < lend; q += 16) bsum += load<f32>(q);
    store<f32>(grads + CONV2_BIAS + oc * 4, bsum);
    for (let c: usize = 0; c < 6; c++) {
      let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, t = z, u = z;
      const co = c * 784;
      for (let q = lst; q < lend; q += 16) {
        const g = v128.load32_splat(q);
        const px = <usize>load<u32>(q, 4) + co;
        const pt = <usize>load<u32>(q, 8) + co;
        a0 = fma(g, v128.load(px, 0), a0);
        a1 = fma(g, v128.load(px, 56), a1);
        a2 = fma(g, v128.load(px, 112), a2);
        a3 = fma(g, v128.load(px, 168), a3);
        a4 = fma(g, v128.load(px, 224), a4);
        t = fma(g, v128.load(pt, 224), t);
        u = fma(g, v128.load(pt, 228), u);
      }
      const o = grads + CONV2_WEIGHT + (oc * 6 + c) * 100;
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
