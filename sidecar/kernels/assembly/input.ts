// The input: uint8 images normalised as x/127.5 - 1 (the seed's transform), and a transposed copy for the
// conv1 weight gradient's kw = 4 column.
import { IMAGE_BYTES } from './layout';
import { zeroBytes } from './simd';

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
