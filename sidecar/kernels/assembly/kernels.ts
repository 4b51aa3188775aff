// Layer kernels (internal; the module's exports are in index.ts) for one training step of the PyTorch tutorial CNN (AssemblyScript).
//
// Built twice by scripts/build.mjs: with `--use RELAXED=1 --enable relaxed-simd` (fused multiply-add through
// f32x4.relaxed_madd) into dist/kernels-relaxed.wasm and with `--use RELAXED=0` into dist/kernels-simd.wasm.
//
// The module imports ONE shared memory; several worker threads instantiate it on the same memory at once.
// Therefore: no mutable globals, no allocation. Every buffer is passed as a byte offset (pointer); each
// worker passes its own scratch area (16-byte aligned, scratchBytes(maxCount) bytes). The only static
// data is whatever the compiler lays out below __heap_base (see heapBase()); the caller places its own
// buffers at or above heapBase().
//
// Network: conv1 3->6 k5 (28x28), ReLU, maxpool 2 (14x14), conv2 6->16 k5 (10x10), ReLU, maxpool 2 (5x5),
// flatten (C,H,W) 400, fc1 400->120, ReLU, fc2 120->84, ReLU, fc3 84->10, softmax cross-entropy.
//
// Backward uses the sparsity that max pooling creates: each pooled output passes its gradient to exactly
// one conv output (its argmax) and only when the ReLU'd max is > 0, so the conv weight gradients and the
// conv2 input gradient are sums over lists of (gradient, patch address) entries, a quarter of the dense
// work. The input gradient of conv1 is never computed.

// ---------------------------------------------------------------------------------------------------------
// Parameter layout (byte offsets into the flat float32 parameter / gradient buffer, PyTorch state_dict order)
export const C1W: usize = 0; //      conv1.weight [6,3,5,5]
export const C1B: usize = 1800; //   conv1.bias [6]
export const C2W: usize = 1824; //   conv2.weight [16,6,5,5]
export const C2B: usize = 11424; //  conv2.bias [16]
export const F1W: usize = 11488; //  fc1.weight [120,400]
export const F1B: usize = 203488; // fc1.bias [120]
export const F2W: usize = 203968; // fc2.weight [84,120]
export const F2B: usize = 244288; // fc2.bias [84]
export const F3W: usize = 244624; // fc3.weight [10,84]
export const F3B: usize = 247984; // fc3.bias [10]
export const PARAM_COUNT: i32 = 62006;

export const IMAGE_BYTES: usize = 3072;

// ---------------------------------------------------------------------------------------------------------
// Scratch layout (bytes from the worker's scratch pointer). A fixed part, then per-sample arrays for N
// samples (N = count of the call): part P of sample s lives at FIXED + N * P_CUM + s * P_SIZE.
export const S_Y1: usize = 0; //       conv1 output, [6][28][28] f32 (one sample)          18816
export const S_Y2: usize = 18816; //   conv2 output, [100 positions][16 channels] f32        6400
export const S_DP1: usize = 25216; //  gradient w.r.t. pool1 output [6][14][14] + pad        4736
export const S_W2T: usize = 29952; //  conv2 weights transposed [150][16]                    9600
export const S_CNT: usize = 39552; //  list lengths: conv1 [6] i32 at +0, conv2 [16] at +32   128
export const FIXED: usize = 39680;

export const X_SIZE: usize = 12352; //   normalised image [3][32][32] f32 + 16 floats pad (zero)
export const P1_SIZE: usize = 4736; //   pool1 output [6][14][14] f32 + 8 floats pad (zero)
export const A1G_SIZE: usize = 4704; //  pool1 argmax: byte offset of the conv1 patch in X, [6][196] i32
export const A1_SIZE: usize = 1600; //   pool2 output = fc1 input [400] f32 (C,H,W)
export const A2G_SIZE: usize = 1600; //  pool2 argmax: byte offset of the conv2 patch in P1, [400] i32
export const H1_SIZE: usize = 480; //    fc1 output after ReLU [120]
export const H2_SIZE: usize = 336; //    fc2 output after ReLU [84]
export const LG_SIZE: usize = 64; //     logits [10] padded to 16
export const DL_SIZE: usize = 64; //     d loss / d logits (times invBatch) [16]
export const DH2_SIZE: usize = 336;
export const DH1_SIZE: usize = 480;
export const DA1_SIZE: usize = 1600;
export const L1_SIZE: usize = 9408; //   conv1 gradient entries: 6 channels x 196 x (f32 g, u32 address)
export const L2_SIZE: usize = 3200; //   conv2 gradient entries: 16 channels x 25 x 8 bytes

export const X_CUM: usize = 0;
export const P1_CUM: usize = 12352;
export const A1G_CUM: usize = 17088;
export const A1_CUM: usize = 21792;
export const A2G_CUM: usize = 23392;
export const H1_CUM: usize = 24992;
export const H2_CUM: usize = 25472;
export const LG_CUM: usize = 25808;
export const DL_CUM: usize = 25872;
export const DH2_CUM: usize = 25936;
export const DH1_CUM: usize = 26272;
export const DA1_CUM: usize = 26752;
export const L1_CUM: usize = 28352;
export const L2_CUM: usize = 37760;
export const PER_SAMPLE: usize = 40960;

// evalShard / logitsShard work in chunks of this many images, so they need scratchBytes(EVAL_CHUNK) at most.
export const EVAL_CHUNK: i32 = 4;

// ---------------------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------------------
// Forward pieces (one sample)

// uint8 [3][32][32] -> f32 x/127.5 - 1, plus 16 zero floats of padding.
export function normalise(src: usize, dst: usize): void {
  const k = f32x4.splat(127.5);
  const one = f32x4.splat(1.0);
  for (let i: usize = 0; i < IMAGE_BYTES; i += 16) {
    const b = v128.load(src + i);
    const lo = i16x8.extend_low_i8x16_u(b);
    const hi = i16x8.extend_high_i8x16_u(b);
    const o = dst + (i << 2);
    v128.store(o, f32x4.sub(f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), k), one));
    v128.store(o, f32x4.sub(f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), k), one), 16);
    v128.store(o, f32x4.sub(f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), k), one), 32);
    v128.store(o, f32x4.sub(f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), k), one), 48);
  }
  zeroBytes(dst + 12288, 64);
}

// conv1: X [3][32][32] -> Y1 [6][28][28] (bias added, before ReLU). Vector lanes = 4 neighbouring x;
// register block = 6 output channels x 4 positions.
export function conv1Forward(params: usize, x: usize, y1: usize): void {
  const b0 = v128.load32_splat(params + C1B, 0);
  const b1 = v128.load32_splat(params + C1B, 4);
  const b2 = v128.load32_splat(params + C1B, 8);
  const b3 = v128.load32_splat(params + C1B, 12);
  const b4 = v128.load32_splat(params + C1B, 16);
  const b5 = v128.load32_splat(params + C1B, 20);
  for (let oy: usize = 0; oy < 28; oy++) {
    for (let ox: usize = 0; ox < 28; ox += 4) {
      let a0 = b0, a1 = b1, a2 = b2, a3 = b3, a4 = b4, a5 = b5;
      let pw = params + C1W;
      let pd = x + ((oy << 5) + ox) * 4;
      for (let r = 0; r < 15; r++) { // r = c*5 + kh
        let d = v128.load(pd);
        a0 = fma(v128.load32_splat(pw, 0), d, a0);
        a1 = fma(v128.load32_splat(pw, 300), d, a1);
        a2 = fma(v128.load32_splat(pw, 600), d, a2);
        a3 = fma(v128.load32_splat(pw, 900), d, a3);
        a4 = fma(v128.load32_splat(pw, 1200), d, a4);
        a5 = fma(v128.load32_splat(pw, 1500), d, a5);
        d = v128.load(pd, 4);
        a0 = fma(v128.load32_splat(pw, 4), d, a0);
        a1 = fma(v128.load32_splat(pw, 304), d, a1);
        a2 = fma(v128.load32_splat(pw, 604), d, a2);
        a3 = fma(v128.load32_splat(pw, 904), d, a3);
        a4 = fma(v128.load32_splat(pw, 1204), d, a4);
        a5 = fma(v128.load32_splat(pw, 1504), d, a5);
        d = v128.load(pd, 8);
        a0 = fma(v128.load32_splat(pw, 8), d, a0);
        a1 = fma(v128.load32_splat(pw, 308), d, a1);
        a2 = fma(v128.load32_splat(pw, 608), d, a2);
        a3 = fma(v128.load32_splat(pw, 908), d, a3);
        a4 = fma(v128.load32_splat(pw, 1208), d, a4);
        a5 = fma(v128.load32_splat(pw, 1508), d, a5);
        d = v128.load(pd, 12);
        a0 = fma(v128.load32_splat(pw, 12), d, a0);
        a1 = fma(v128.load32_splat(pw, 312), d, a1);
        a2 = fma(v128.load32_splat(pw, 612), d, a2);
        a3 = fma(v128.load32_splat(pw, 912), d, a3);
        a4 = fma(v128.load32_splat(pw, 1212), d, a4);
        a5 = fma(v128.load32_splat(pw, 1512), d, a5);
        d = v128.load(pd, 16);
        a0 = fma(v128.load32_splat(pw, 16), d, a0);
        a1 = fma(v128.load32_splat(pw, 316), d, a1);
        a2 = fma(v128.load32_splat(pw, 616), d, a2);
        a3 = fma(v128.load32_splat(pw, 916), d, a3);
        a4 = fma(v128.load32_splat(pw, 1216), d, a4);
        a5 = fma(v128.load32_splat(pw, 1516), d, a5);
        pw += 20;
        pd += (r == 4 || r == 9) ? <usize>(128 + 4096 - 5 * 128) : <usize>128;
      }
      const o = y1 + (oy * 28 + ox) * 4;
      v128.store(o, a0, 0);
      v128.store(o, a1, 3136);
      v128.store(o, a2, 6272);
      v128.store(o, a3, 9408);
      v128.store(o, a4, 12544);
      v128.store(o, a5, 15680);
    }
  }
}

// ReLU + 2x2 max pool of Y1 -> P1 [6][14][14], and the argmax as the byte offset (y*32+x)*4 of the conv1
// patch in X. PyTorch's tie rule: the first maximum in window scan order wins (strict >).
export function pool1(y1: usize, p1: usize, arg: usize): void {
  const zero = f32x4.splat(0);
  const offB = i32x4.splat(4), offC = i32x4.splat(128), offD = i32x4.splat(132);
  const lane = i32x4(0, 8, 16, 24);
  for (let c: usize = 0; c < 6; c++) {
    for (let i: usize = 0; i < 14; i++) {
      const r0 = y1 + (c * 784 + i * 56) * 4;
      const r1 = r0 + 112;
      const po = p1 + (c * 196 + i * 14) * 4;
      const ao = arg + (c * 196 + i * 14) * 4;
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
        m = f32x4.max(m, zero);
        off = i32x4.add(off, i32x4.add(rowBase, i32x4.splat(<i32>(j * 8))));
        if (j < 12) {
          v128.store(po + j * 4, m);
          v128.store(ao + j * 4, off);
        } else {
          v128.store64_lane(po + j * 4, m, 0);
          v128.store64_lane(ao + j * 4, off, 0);
        }
      }
    }
  }
  zeroBytes(p1 + 4704, 32);
}

// conv2 weights [16][150] -> [150][16] so that vector lanes run over output channels.
export function transposeConv2(params: usize, w2t: usize): void {
  for (let oc: usize = 0; oc < 16; oc++) {
    const src = params + C2W + oc * 600;
    for (let k: usize = 0; k < 150; k++) store<f32>(w2t + k * 64 + oc * 4, load<f32>(src + k * 4));
  }
}

// conv2: P1 [6][14][14] -> Y2 [100][16] (bias added, before ReLU). Lanes = output channels;
// register block = 16 channels x 2 neighbouring positions.
export function conv2Forward(params: usize, w2t: usize, p1: usize, y2: usize): void {
  const b0 = v128.load(params + C2B, 0);
  const b1 = v128.load(params + C2B, 16);
  const b2 = v128.load(params + C2B, 32);
  const b3 = v128.load(params + C2B, 48);
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
        m = f32x4.max(m, zero);
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

// ---------------------------------------------------------------------------------------------------------
// Fully connected layers over n samples. Row strides are nin*4 (inputs) and ys bytes (outputs).

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
        r0 = f32x4.max(r0, zero);
        r1 = f32x4.max(r1, zero);
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
      if (relu) r0 = f32x4.max(r0, zero);
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

// ---------------------------------------------------------------------------------------------------------
// Shared forward over n samples (scratch laid out for N >= n samples).

export function forwardSamples(params: usize, images: usize, indices: usize, n: i32, N: usize, scratch: usize): void {
  const fixed = scratch;
  const base = scratch + FIXED;
  const w2t = fixed + S_W2T;
  transposeConv2(params, w2t);
  for (let s = 0; s < n; s++) {
    const su = <usize>s;
    const idx = <usize>load<i32>(indices + su * 4);
    const xs = base + N * X_CUM + su * X_SIZE;
    const p1 = base + N * P1_CUM + su * P1_SIZE;
    normalise(images + idx * IMAGE_BYTES, xs);
    conv1Forward(params, xs, fixed + S_Y1);
    pool1(fixed + S_Y1, p1, base + N * A1G_CUM + su * A1G_SIZE);
    conv2Forward(params, w2t, p1, fixed + S_Y2);
    pool2(fixed + S_Y2, base + N * A1_CUM + su * A1_SIZE, base + N * A2G_CUM + su * A2G_SIZE);
  }
  const h1 = base + N * H1_CUM;
  const h2 = base + N * H2_CUM;
  linearForward(params + F1W, params + F1B, base + N * A1_CUM, h1, n, 400, 120, H1_SIZE, true);
  linearForward(params + F2W, params + F2B, h1, h2, n, 120, 84, H2_SIZE, true);
  linearForward(params + F3W, params + F3B, h2, base + N * LG_CUM, n, 84, 10, LG_SIZE, false);
}

// index of the first maximum of 10 logits
// @ts-ignore: decorator
@inline export function argmax10(lg: usize): i32 {
  let best = load<f32>(lg);
  let k = 0;
  for (let j = 1; j < 10; j++) {
    const v = load<f32>(lg + <usize>j * 4);
    if (v > best) {
      best = v;
      k = j;
    }
  }
  return k;
}

// cross-entropy of 10 logits against label y (f64 arithmetic); if dl != 0 writes
// (softmax - onehot) * scale to dl[0..9] and zeros to dl[10..15].
export function crossEntropy(lg: usize, y: i32, dl: usize, scale: f64): f64 {
  let mx = load<f32>(lg);
  for (let j = 1; j < 10; j++) mx = max(mx, load<f32>(lg + <usize>j * 4));
  let sum: f64 = 0;
  for (let j = 0; j < 10; j++) sum += Math.exp(<f64>(load<f32>(lg + <usize>j * 4) - mx));
  const lse = Math.log(sum);
  if (dl) {
    const inv = 1.0 / sum;
    for (let j = 0; j < 10; j++) {
      const p = Math.exp(<f64>(load<f32>(lg + <usize>j * 4) - mx)) * inv;
      store<f32>(dl + <usize>j * 4, <f32>((p - (j == y ? 1.0 : 0.0)) * scale));
    }
    for (let j = 10; j < 16; j++) store<f32>(dl + <usize>j * 4, 0);
  }
  return lse - <f64>(load<f32>(lg + <usize>y * 4) - mx);
}

// Conv backward for the shard: per sample, the conv2 gradient entries (g, patch address in P1) per output
// channel and the conv2 input gradient dP1 (scatter), then the conv1 entries (g, patch address in X).
export function convBackwardEntries(params: usize, n: i32, N: usize, scratch: usize): void {
  const fixed = scratch;
  const base = scratch + FIXED;
  const a1 = base + N * A1_CUM;
  const da1 = base + N * DA1_CUM;
  const cnt1 = fixed + S_CNT;
  const cnt2 = fixed + S_CNT + 32;
  zeroBytes(cnt1, 128);
  const dp1 = fixed + S_DP1;
  const l1 = base + N * L1_CUM;
  const l2 = base + N * L2_CUM;
  const l1Cap = N * 196 * 8;
  const l2Cap = N * 25 * 8;
  for (let s = 0; s < n; s++) {
    const su = <usize>s;
    const p1 = base + N * P1_CUM + su * P1_SIZE;
    const xs = base + N * X_CUM + su * X_SIZE;
    const sa1 = a1 + su * A1_SIZE;
    const sda1 = da1 + su * DA1_SIZE;
    const sarg2 = base + N * A2G_CUM + su * A2G_SIZE;
    zeroBytes(dp1, P1_SIZE);
    for (let oc: usize = 0; oc < 16; oc++) {
      let cnt = <usize>load<i32>(cnt2 + oc * 4);
      const lst = l2 + oc * l2Cap;
      const w0 = params + C2W + oc * 600;
      for (let p: usize = 0; p < 25; p++) {
        const e = (oc * 25 + p) * 4;
        const g = load<f32>(sda1 + e);
        if (load<f32>(sa1 + e) > 0 && g != 0) {
          const off = <usize>load<i32>(sarg2 + e);
          store<f32>(lst + cnt * 8, g);
          store<u32>(lst + cnt * 8, <u32>(p1 + off), 4);
          cnt++;
          // dP1[c][y+kh][x+kw] += g * W2[oc][c][kh][kw]
          const gv = f32x4.splat(g);
          let pw = w0;
          let pd = dp1 + off;
          for (let c = 0; c < 6; c++) {
            for (let kh = 0; kh < 5; kh++) {
              v128.store(pd, fma(gv, v128.load(pw), v128.load(pd)));
              store<f32>(pd, g * load<f32>(pw, 16) + load<f32>(pd, 16), 16);
              pw += 20;
              pd += 56;
            }
            pd += 784 - 280;
          }
        }
      }
      store<i32>(cnt2 + oc * 4, <i32>cnt);
    }
    // conv1 entries: branch-free compaction (an entry whose gradient is blocked is overwritten next)
    const sarg1 = base + N * A1G_CUM + su * A1G_SIZE;
    for (let c: usize = 0; c < 6; c++) {
      let cnt = <usize>load<i32>(cnt1 + c * 4);
      const lst = l1 + c * l1Cap;
      for (let p: usize = 0; p < 196; p++) {
        const e = (c * 196 + p) * 4;
        const pass = load<f32>(p1 + e) > 0;
        const g = load<f32>(dp1 + e);
        store<f32>(lst + cnt * 8, g);
        store<u32>(lst + cnt * 8, <u32>(xs + <usize>load<i32>(sarg1 + e)), 4);
        cnt += <usize>(pass && g != 0);
      }
      store<i32>(cnt1 + c * 4, <i32>cnt);
    }
  }

}

// conv2 weight and bias gradients (overwrite) from the entry lists.
export function conv2WeightGrad(grads: usize, N: usize, scratch: usize): void {
  const cnt2 = scratch + S_CNT + 32;
  const l2 = scratch + FIXED + N * L2_CUM;
  const l2Cap = N * 25 * 8;
  for (let oc: usize = 0; oc < 16; oc++) {
    const ne = <usize>load<i32>(cnt2 + oc * 4);
    const lst = l2 + oc * l2Cap;
    const lend = lst + ne * 8;
    let bsum: f32 = 0;
    for (let q = lst; q < lend; q += 8) bsum += load<f32>(q);
    store<f32>(grads + C2B + oc * 4, bsum);
    for (let c: usize = 0; c < 6; c++) {
      const z = f32x4.splat(0);
      let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, e0 = z, e1 = z, e2 = z, e3 = z, e4 = z;
      const co = c * 784;
      for (let q = lst; q < lend; q += 8) {
        const g = v128.load32_splat(q);
        const pd = <usize>load<u32>(q, 4) + co;
        a0 = fma(g, v128.load(pd, 0), a0);
        e0 = fma(g, v128.load(pd, 16), e0);
        a1 = fma(g, v128.load(pd, 56), a1);
        e1 = fma(g, v128.load(pd, 72), e1);
        a2 = fma(g, v128.load(pd, 112), a2);
        e2 = fma(g, v128.load(pd, 128), e2);
        a3 = fma(g, v128.load(pd, 168), a3);
        e3 = fma(g, v128.load(pd, 184), e3);
        a4 = fma(g, v128.load(pd, 224), a4);
        e4 = fma(g, v128.load(pd, 240), e4);
      }
      const o = grads + C2W + (oc * 6 + c) * 100;
      v128.store(o, a0, 0);
      store<f32>(o, f32x4.extract_lane(e0, 0), 16);
      v128.store(o, a1, 20);
      store<f32>(o, f32x4.extract_lane(e1, 0), 36);
      v128.store(o, a2, 40);
      store<f32>(o, f32x4.extract_lane(e2, 0), 56);
      v128.store(o, a3, 60);
      store<f32>(o, f32x4.extract_lane(e3, 0), 76);
      v128.store(o, a4, 80);
      store<f32>(o, f32x4.extract_lane(e4, 0), 96);
    }
  }

}

// conv1 weight and bias gradients (overwrite) from the entry lists.
export function conv1WeightGrad(grads: usize, N: usize, scratch: usize): void {
  const cnt1 = scratch + S_CNT;
  const l1 = scratch + FIXED + N * L1_CUM;
  const l1Cap = N * 196 * 8;
  for (let oc: usize = 0; oc < 6; oc++) {
    const ne = <usize>load<i32>(cnt1 + oc * 4);
    const lst = l1 + oc * l1Cap;
    const lend = lst + ne * 8;
    let bsum: f32 = 0;
    for (let q = lst; q < lend; q += 8) bsum += load<f32>(q);
    store<f32>(grads + C1B + oc * 4, bsum);
    for (let c: usize = 0; c < 3; c++) {
      const z = f32x4.splat(0);
      let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, e0 = z, e1 = z, e2 = z, e3 = z, e4 = z;
      const co = c * 4096;
      for (let q = lst; q < lend; q += 8) {
        const g = v128.load32_splat(q);
        const pd = <usize>load<u32>(q, 4) + co;
        a0 = fma(g, v128.load(pd, 0), a0);
        e0 = fma(g, v128.load(pd, 16), e0);
        a1 = fma(g, v128.load(pd, 128), a1);
        e1 = fma(g, v128.load(pd, 144), e1);
        a2 = fma(g, v128.load(pd, 256), a2);
        e2 = fma(g, v128.load(pd, 272), e2);
        a3 = fma(g, v128.load(pd, 384), a3);
        e3 = fma(g, v128.load(pd, 400), e3);
        a4 = fma(g, v128.load(pd, 512), a4);
        e4 = fma(g, v128.load(pd, 528), e4);
      }
      const o = grads + C1W + (oc * 3 + c) * 100;
      v128.store(o, a0, 0);
      store<f32>(o, f32x4.extract_lane(e0, 0), 16);
      v128.store(o, a1, 20);
      store<f32>(o, f32x4.extract_lane(e1, 0), 36);
      v128.store(o, a2, 40);
      store<f32>(o, f32x4.extract_lane(e2, 0), 56);
      v128.store(o, a3, 60);
      store<f32>(o, f32x4.extract_lane(e3, 0), 76);
      v128.store(o, a4, 80);
      store<f32>(o, f32x4.extract_lane(e4, 0), 96);
    }
  }
}
