// Data augmentation (issue 14, part 5): `flip-crop`, the common CIFAR recipe (a random horizontal flip and a random
// 32x32 crop of the image zero-padded by 4 pixels), as torchvision's RandomCrop(32, padding=4) and
// RandomHorizontalFlip compose it, on the uint8 pixels before they are normalised (so the padding is pixel value 0).
//
// Every image of an epoch gets one code, drawn after the epoch's permutation from a generator seeded by one draw of the
// run's generator (the epoch's `augmentSeed`, which a checkpoint carries): code = rng.nextInt(162) for each position
// of the permutation in order; flip = code % 2, dx = floor(code / 2) % 9, dy = floor(code / 18). The output pixel
// (c, y, x) is the input's (c, y + dy - 4, x' + dx - 4) with x' = 31 - x when flipped, else x; 0 outside the image.
// The codes belong to positions of the permutation, not to threads, so any worker count draws the same batches.
// Evaluation never augments.
import { Rng } from '../rng';

export const AUGMENTATIONS = ['none', 'flip-crop'] as const;
export type AugmentationName = (typeof AUGMENTATIONS)[number];

const PAD = 4;
const SIDE = 32;
const PLANE = SIDE * SIDE;
export const AUGMENT_CODES = 2 * 9 * 9;

/** Fills codes[i] (one per position of the epoch's permutation) from the epoch's augmentSeed. */
export function drawAugmentation(augmentSeed: number, codes: Uint8Array): void {
  const rng = new Rng(augmentSeed);
  for (let i = 0; i < codes.length; i++) codes[i] = rng.nextInt(AUGMENT_CODES);
}

/** Writes the augmented copy of one uint8 [3][32][32] image (src at srcOffset) into dst at dstOffset. */
export function augmentImage(code: number, src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  const flip = code % 2 === 1;
  const dx = Math.floor(code / 2) % 9 - PAD;
  const dy = Math.floor(code / 18) - PAD;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < SIDE; y++) {
      const sy = y + dy;
      const out = dstOffset + c * PLANE + y * SIDE;
      if (sy < 0 || sy >= SIDE) {
        dst.fill(0, out, out + SIDE);
        continue;
      }
      const row = srcOffset + c * PLANE + sy * SIDE;
      for (let x = 0; x < SIDE; x++) {
        const sx = (flip ? SIDE - 1 - x : x) + dx;
        dst[out + x] = sx >= 0 && sx < SIDE ? src[row + sx] : 0;
      }
    }
  }
}
