// The WebAssembly codecs a user's own image needs beyond the dataset's JPEG/PNG decoders: libwebp's decoder
// (@jsquash/webp) and the resampler (@jsquash/resize, Rust's `resize` crate). Both are plain WebAssembly: no native
// addon, nothing downloaded at install or run time. The .wasm files are copied beside the bundles by
// scripts/build.mjs (the .vsix has no node_modules); from sources (tests) they are read from node_modules.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initSync as initResizeSync, resize as wasmResize } from '@jsquash/resize/lib/resize/pkg/squoosh_resize.js';
import decodeWebpWasm, { init as initWebp } from '@jsquash/webp/decode.js';

/** Where each .wasm is: its name beside the bundle, and its path inside node_modules. */
export const WASM_ASSETS = {
  resize: { file: 'squoosh_resize_bg.wasm', module: '@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm' },
  webp: { file: 'webp_dec.wasm', module: '@jsquash/webp/codec/dec/webp_dec.wasm' },
} as const;

function wasmBytes(asset: (typeof WASM_ASSETS)[keyof typeof WASM_ASSETS]): Buffer {
  const beside = join(__dirname, asset.file);
  return readFileSync(existsSync(beside) ? beside : require.resolve(asset.module));
}

let resizeReady = false;
/** The resampler's filters, in the order its `typ_idx` takes them. */
const FILTERS = ['triangle', 'catrom', 'mitchell', 'lanczos3'] as const;

/**
 * Resizes RGBA pixels with the triangle filter scaled to the reduction (antialiased), which is what PIL's
 * Image.resize(size, Image.BILINEAR) computes and so torchvision's transforms.Resize((32, 32)) (its default
 * interpolation): within one level of PIL on every pixel (test/predict/resize.test.ts). No premultiplied alpha, no
 * linear-light conversion: PIL does neither.
 */
export function resizeRgba(rgba: Uint8Array, width: number, height: number, toWidth: number, toHeight: number): Uint8ClampedArray {
  if (!resizeReady) {
    initResizeSync(wasmBytes(WASM_ASSETS.resize));
    resizeReady = true;
  }
  return wasmResize(rgba, width, height, toWidth, toHeight, FILTERS.indexOf('triangle'), false, false);
}

let webpReady: Promise<void> | null = null;
/** Decodes a WebP file to RGBA (libwebp); throws on a damaged file. */
export async function decodeWebp(bytes: Uint8Array): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  webpReady ??= WebAssembly.compile(new Uint8Array(wasmBytes(WASM_ASSETS.webp))).then((m) => initWebp(m));
  await webpReady;
  const img = await decodeWebpWasm(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return { data: img.data, width: img.width, height: img.height };
}
