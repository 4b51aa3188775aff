// Layer kernels (internal; the module's exports are in index.ts) for one training step of the PyTorch
// tutorial CNN, in AssemblyScript with WebAssembly SIMD.
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
// one conv output (its argmax), and only when the ReLU'd max is > 0. So the conv weight gradients are sums
// over the pooled outputs of g * (the input patch at the argmax), a quarter of the dense work; conv2's are
// over a compacted list (ReLU blocks about a quarter), conv1's dense over all 6x196 pooled outputs (ReLU
// blocks only a few percent there). The conv2 input gradient sums g * W2[oc] per conv2 position first and
// then adds that 6x5x5 block into dP1 once per position. The input gradient of conv1 is never computed.
// Patches are 5 row vectors (kw 0..3) plus the kw = 4 column read from a transposed copy of the input, so
// the weight-gradient loops need 7 accumulators and do not spill.
//
// Register blocking follows what V8 (Node 20) compiles well: at most ~15 live v128 values per loop
// (accumulators + the values loaded in one iteration, which TurboFan schedules first), non-unrolled inner
// loops, loop-carried pointers (Binaryen sinks single-use loop invariants into loops otherwise).

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
export const S_Y1: usize = 0; //                     conv1 output [6][28][28] f32 (one sample)
export const S_Y2: usize = S_Y1 + 18816; //          conv2 output [100 positions][16 channels] f32
export const S_W2T: usize = S_Y2 + 6400; //          conv2 weights transposed [150][16]
export const S_W1S: usize = S_W2T + 9600; //         conv1 weights splatted [6][75] x v128
export const S_TAP: usize = S_W1S + 7200; //         conv1: byte step in X from tap k to tap k+1 [75] i32
export const S_CNT: usize = S_TAP + 320; //          conv2 list lengths [16] i32
export const S_W2P: usize = S_CNT + 128; //          conv2 weights, rows padded to 160 floats [16][160]
export const S_BKT: usize = S_W2P + 10240; //        per conv2 position of a pool window: (g, W2P row) [4][16] x 16 B
export const S_BKN: usize = S_BKT + 1024; //         bucket lengths [4] i32
export const S_COMB: usize = S_BKN + 64; //          sum of g * W2P row for one conv2 position [160]
export const FIXED: usize = S_COMB + 640;

export const X_SIZE: usize = 12352; //   normalised image [3][32][32] f32 + 16 floats pad (zero)
export const XT_SIZE: usize = 12288; //  the same transposed per channel, [3][x][y]
export const P1_SIZE: usize = 4736; //   pool1 output [6][14][14] f32 + 8 floats pad (zero)
export const P1T_SIZE: usize = 4736; //  the same transposed per channel, [6][x][y]
export const A1G_SIZE: usize = 9408; //  pool1 argmax: addresses of the conv1 patch in X and in XT, [6][196][2] u32
export const A1_SIZE: usize = 1600; //   pool2 output = fc1 input [400] f32 (C,H,W)
export const A2G_SIZE: usize = 1600; //  pool2 argmax: byte offset of the conv2 patch in P1, [400] i32
export const H1_SIZE: usize = 480; //    fc1 output after ReLU [120]
export const H2_SIZE: usize = 336; //    fc2 output after ReLU [84]
export const LG_SIZE: usize = 64; //     logits [10] padded to 16
export const DL_SIZE: usize = 64; //     d loss / d logits (times invBatch) [16]
export const DH2_SIZE: usize = 336;
export const DH1_SIZE: usize = 480;
export const DA1_SIZE: usize = 1600;
export const G1_SIZE: usize = 4736; //   d loss / d conv1 output at the pool1 argmax [6][196] (0 where ReLU blocks)
// conv2 gradient entries, 16 bytes each: f32 g, u32 address of the patch in P1, u32 address in P1T
export const L2_SIZE: usize = 6400; //   16 channels x 25

export const X_CUM: usize = 0;
export const XT_CUM: usize = X_CUM + X_SIZE;
export const P1_CUM: usize = XT_CUM + XT_SIZE;
export const P1T_CUM: usize = P1_CUM + P1_SIZE;
export const A1G_CUM: usize = P1T_CUM + P1T_SIZE;
export const A1_CUM: usize = A1G_CUM + A1G_SIZE;
export const A2G_CUM: usize = A1_CUM + A1_SIZE;
export const H1_CUM: usize = A2G_CUM + A2G_SIZE;
export const H2_CUM: usize = H1_CUM + H1_SIZE;
export const LG_CUM: usize = H2_CUM + H2_SIZE;
export const DL_CUM: usize = LG_CUM + LG_SIZE;
export const DH2_CUM: usize = DL_CUM + DL_SIZE;
export const DH1_CUM: usize = DH2_CUM + DH2_SIZE;
export const DA1_CUM: usize = DH1_CUM + DH1_SIZE;
export const G1_CUM: usize = DA1_CUM + DA1_SIZE;
export const L2_CUM: usize = G1_CUM + G1_SIZE;
export const PER_SAMPLE: usize = L2_CUM + L2_SIZE;

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

// The normalised image transposed per channel: XT[c][x][y] = X[c][y][x] (4x4 blocks).
export function transposeImage(x: usize, xt: usize): void {
  for (let c: usize = 0; c < 3; c++) {
    for (let y: usize = 0; y < 32; y += 4) {
      for (let xx: usize = 0; xx < 32; xx += 4) {
        const src = x + (c * 1024 + y * 32 + xx) * 4;
        const r0 = v128.load(src), r1 = v128.load(src, 128), r2 = v128.load(src, 256), r3 = v128.load(src, 384);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const dst = xt + (c * 1024 + xx * 32 + y) * 4;
        v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(dst, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 128);
        v128.store(dst, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 256);
        v128.store(dst, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 384);
      }
    }
  }
}

// Per call: conv1 weights splatted to vectors, W1S[oc][k] (k = c*25 + kh*5 + kw), and for each tap k the
// byte distance in X from tap k to tap k+1, TAP[k] (taps at (c*1024 + kh*32 + kw)*4).
export function prepareConv1(params: usize, w1s: usize, tap: usize): void {
  for (let k: usize = 0; k < 450; k++) v128.store(w1s + k * 16, v128.load32_splat(params + C1W + k * 4));
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
      const bb0 = v128.load32_splat(params + C1B + op * 4);
      const bb1 = v128.load32_splat(params + C1B + op * 4, 4);
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

// conv2 weights with rows padded to 160 floats (zeros), for the conv2 input gradient.
export function padConv2(params: usize, w2p: usize): void {
  const z = f32x4.splat(0);
  for (let oc: usize = 0; oc < 16; oc++) {
    const src = params + C2W + oc * 600;
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

// ---------------------------------------------------------------------------------------------------------
// Shared forward over n samples (scratch laid out for N >= n samples).

export function forwardSamples(params: usize, images: usize, indices: usize, n: i32, N: usize, scratch: usize, training: bool): void {
  const fixed = scratch;
  const base = scratch + FIXED;
  const w2t = fixed + S_W2T;
  transposeConv2(params, w2t);
  prepareConv1(params, fixed + S_W1S, fixed + S_TAP);
  for (let s = 0; s < n; s++) {
    const su = <usize>s;
    const idx = <usize>load<i32>(indices + su * 4);
    const xs = base + N * X_CUM + su * X_SIZE;
    const p1 = base + N * P1_CUM + su * P1_SIZE;
    normalise(images + idx * IMAGE_BYTES, xs);
    if (training) transposeImage(xs, base + N * XT_CUM + su * XT_SIZE);
    conv1Forward(params, fixed + S_W1S, fixed + S_TAP, xs, fixed + S_Y1);
    pool1(fixed + S_Y1, p1, base + N * P1T_CUM + su * P1T_SIZE, base + N * A1G_CUM + su * A1G_SIZE, xs,
      base + N * XT_CUM + su * XT_SIZE);
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
// (softmax - onehot) * scale to dl[0..9] (|values| < 1e-20 flushed to 0) and zeros to dl[10..15].
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
      const d = (p - (j == y ? 1.0 : 0.0)) * scale;
      // a confident net gives softmax values far below float32's normal range; flush them (and anything
      // too small to matter) so that no subnormal float arises in the backward kernels: WebAssembly cannot
      // set flush-to-zero and subnormal arithmetic is very slow
      store<f32>(dl + <usize>j * 4, Math.abs(d) < 1e-20 ? <f32>0 : <f32>d);
    }
    for (let j = 10; j < 16; j++) store<f32>(dl + <usize>j * 4, 0);
  }
  return lse - <f64>(load<f32>(lg + <usize>y * 4) - mx);
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
    store<f32>(grads + C2B + oc * 4, bsum);
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
      const o = grads + C2W + (oc * 6 + c) * 100;
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
    store<f32>(grads + C1B + oc * 4, hsum(bs));
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
      const o = grads + C1W + (oc * 3 + c) * 100;
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
