// libjpeg's last two decoding steps, redone after jpeg-js so that our pixels match PIL's (and so
// torchvision's): jpeg-js widens subsampled chroma by repeating samples, libjpeg by its "fancy" triangle
// filter (jdsample.c, h2v1/h1v2/h2v2_fancy_upsample), which moves edge colours by up to ~50 levels; and libjpeg
// turns YCbCr into RGB with fixed-point tables (jdcolor.c, ycc_rgb_convert). With both, the remaining
// difference is jpeg-js's IDCT: luma within 1 level.

import { IMAGE_SIZE } from '../nn/spec';

const N = IMAGE_SIZE;
const PLANE = N * N;
const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const fix = (x: number) => Math.round(x * (1 << SCALEBITS));

// jdcolor.c build_ycc_rgb_table, indexed by the chroma sample (0..255).
const crR = new Int32Array(256);
const cbB = new Int32Array(256);
const crG = new Int32Array(256);
const cbG = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  crR[i] = (fix(1.402) * x + ONE_HALF) >> SCALEBITS;
  cbB[i] = (fix(1.772) * x + ONE_HALF) >> SCALEBITS;
  crG[i] = -fix(0.71414) * x;
  cbG[i] = -fix(0.34414) * x + ONE_HALF;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

// One chroma channel back at full size. `ycc` is jpeg-js's colorTransform:false output (Y, Cb, Cr
// interleaved, chroma repeated), so the subsampled plane is every h-th column of every v-th row.
function upsample(ycc: Uint8Array, channel: number, h: number, v: number, out: Int32Array): void {
  const w = N / h;
  const rows = N / v;
  const sample = (x: number, y: number) => ycc[(y * v * N + x * h) * 3 + channel];
  for (let outY = 0; outY < N; outY++) {
    const y = Math.floor(outY / v);
    // Vertically (v = 2) each output row mixes its sample row 3:1 with the nearer neighbour row; the edge
    // rows count as their own neighbours. Column values are then in quarters.
    const near = v === 1 ? y : outY % 2 === 0 ? Math.max(y - 1, 0) : Math.min(y + 1, rows - 1);
    const col = (x: number) => (v === 1 ? sample(x, y) : sample(x, y) * 3 + sample(x, near));
    const row = outY * N;
    if (h === 1) {
      const bias = outY % 2 === 0 ? 1 : 2; // h1v2_fancy_upsample's, alternating like those below
      for (let x = 0; x < N; x++) out[row + x] = v === 1 ? col(x) : (col(x) + bias) >> 2;
      continue;
    }
    // Horizontally each sample becomes two, each mixed 3:1 with its nearer neighbour (the edges with
    // themselves); libjpeg's rounding biases alternate between the two.
    const [shift, evenBias, oddBias] = v === 2 ? [4, 8, 7] : [2, 1, 2];
    for (let x = 0; x < w; x++) {
      const here = col(x) * 3;
      out[row + 2 * x] = (here + col(Math.max(x - 1, 0)) + evenBias) >> shift;
      out[row + 2 * x + 1] = (here + col(Math.min(x + 1, w - 1)) + oddBias) >> shift;
    }
  }
}

const cb = new Int32Array(PLANE);
const cr = new Int32Array(PLANE);

// For luma sampling factors (h, v) of 1 or 2 and chroma at 1x1: what common JPEG writers produce.
export function yccToPlanes(ycc: Uint8Array, h: number, v: number, out: Uint8Array, offset: number): void {
  upsample(ycc, 1, h, v, cb);
  upsample(ycc, 2, h, v, cr);
  for (let p = 0; p < PLANE; p++) {
    const y = ycc[p * 3];
    out[offset + p] = clamp(y + crR[cr[p]]);
    out[offset + PLANE + p] = clamp(y + ((cbG[cb[p]] + crG[cr[p]]) >> SCALEBITS));
    out[offset + 2 * PLANE + p] = clamp(y + cbB[cb[p]]);
  }
}
