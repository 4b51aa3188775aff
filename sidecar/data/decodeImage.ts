// One image file (JPEG or PNG, told apart by content, not by name) to 3,072 bytes in C, H, W order.
// Colour is converted as PIL's Image.convert('RGB') does, which is what torchvision's ImageFolder uses,
// so the same folder gives PyTorch and us the same pixels: grey is copied to R, G and B, alpha is dropped.
//
// Image folders come from anywhere, so every decode is bounded before it starts: the file's size, the size the
// header declares, and what the compressed data may expand to. A 2 MB PNG can hold a zlib stream of gigabytes of
// zeros, and pngjs inflates an interlaced image's data without a limit.

import { inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { UserError } from '../errors';
import { IMAGE_SIZE } from '../nn/spec';
import type { RegularFileRead } from '../regularFile';
import { yccToPlanes } from './jpegColor';

const PLANE = IMAGE_SIZE * IMAGE_SIZE; // 1,024

/**
 * A 32x32 image takes a few KB; its metadata (EXIF, ICC profile, XMP) rarely more than a few hundred. A bigger file
 * is not a CIFAR-sized image, and is refused before it is read.
 */
export const MAX_IMAGE_FILE_BYTES = 4 << 20;
// A 32x32 PNG's pixel data inflates to at most 8,252 bytes (16-bit RGBA, one filter byte a row, Adam7's seven
// passes); anything that inflates past this bound is not a 32x32 PNG.
const MAX_PNG_INFLATED_BYTES = 16 << 10;
// jpeg-js counts what it allocates (coefficient blocks, tables, the output) against this; a 32x32 JPEG needs far
// less than 1 MB. Its default is 512 MB.
const MAX_JPEG_MEMORY_MB = 16;

function isJpeg(b: Uint8Array): boolean {
  return b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
function isPng(b: Uint8Array): boolean {
  return b.length > 24 && PNG_SIGNATURE.every((v, i) => b[i] === v);
}

interface JpegFrame {
  width: number;
  height: number;
  sampling: Array<[number, number]>; // (h, v) per component
  adobe: boolean; // an Adobe APP14 segment: the colour space may not be YCbCr
}

// The frame header, read before decoding so that a photo of 4000x3000 pixels is refused at once instead of
// decoded first, and so that the colour path (jpegColor.ts) knows the chroma subsampling.
function jpegFrame(b: Uint8Array): JpegFrame | undefined {
  let adobe = false;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; } // no length field
    if (marker === 0xee && String.fromCharCode(...b.subarray(i + 4, i + 9)) === 'Adobe') adobe = true;
    // SOF0..SOF15 carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const sampling: Array<[number, number]> = [];
      for (let c = 0; c < b[i + 9] && i + 12 + 3 * c < b.length; c++) {
        const factors = b[i + 11 + 3 * c];
        sampling.push([factors >> 4, factors & 15]);
      }
      return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8], sampling, adobe };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or end before any frame
    i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  return undefined;
}

// YCbCr with luma sampled 1 or 2 each way and chroma at 1x1 (JFIF's usual forms) gets libjpeg's colour
// path; anything rarer keeps jpeg-js's own conversion.
function libjpegSampling(frame: JpegFrame): [number, number] | undefined {
  const [luma, cb, cr] = frame.sampling;
  if (frame.adobe || frame.sampling.length !== 3) return undefined;
  if (cb[0] !== 1 || cb[1] !== 1 || cr[0] !== 1 || cr[1] !== 1) return undefined;
  const [h, v] = luma;
  return (h === 1 || h === 2) && (v === 1 || v === 2) ? [h, v] : undefined;
}

interface PngLayout {
  width: number;
  height: number;
  idat: Uint8Array[]; // the compressed pixel data, in order
}

// Walks the chunks (length, type, data, CRC) after the signature: IHDR must come first, IDAT is collected. The
// CRCs are pngjs's to check.
function pngLayout(b: Uint8Array, file: string): PngLayout {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = (at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
  if (v.getUint32(8) !== 13 || type(12) !== 'IHDR') throw new UserError('bad_dataset', `${file} is not a valid PNG image (its first chunk is not IHDR)`);
  const layout: PngLayout = { width: v.getUint32(16), height: v.getUint32(20), idat: [] };
  for (let at = 8; at + 8 <= b.length;) {
    const length = v.getUint32(at);
    const end = at + 12 + length;
    if (end > b.length) throw new UserError('bad_dataset', `${file} is not a valid PNG image (chunk ${JSON.stringify(type(at + 4))} runs past the end of the file)`);
    const name = type(at + 4);
    if (name === 'IDAT') layout.idat.push(b.subarray(at + 8, at + 8 + length));
    if (name === 'IEND') break;
    at = end;
  }
  return layout;
}

// Inflates the pixel data with a bound on what it may expand to (zlib stops there), so that pngjs, which inflates it
// again, is known to get no more.
function checkPngInflates(file: string, idat: Uint8Array[]): void {
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: MAX_PNG_INFLATED_BYTES });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UserError('bad_dataset',
        `${file} is not a valid 32x32 PNG image: its pixel data decompresses to more than ${MAX_PNG_INFLATED_BYTES.toLocaleString('en-US')} bytes (a decompression bomb?)`);
    }
    throw new UserError('bad_dataset', `${file} is not a valid PNG image (${(e as Error).message})`);
  }
}

function checkSize(file: string, size: { width: number; height: number }): void {
  if (size.width !== IMAGE_SIZE || size.height !== IMAGE_SIZE) {
    throw new UserError('bad_dataset',
      `${file} is ${size.width}x${size.height} pixels; images must be 32x32 (CIFAR-10's size): resize them first`);
  }
}

// Interleaved pixels (3 or 4 bytes each) to planes, written straight into the split's buffer.
function toPlanes(pixels: Uint8Array, stride: number, out: Uint8Array, offset: number): void {
  for (let p = 0, s = 0; p < PLANE; p++, s += stride) {
    out[offset + p] = pixels[s];
    out[offset + PLANE + p] = pixels[s + 1];
    out[offset + 2 * PLANE + p] = pixels[s + 2];
  }
}

/** Refuses a file too large to be a 32x32 image (the image folder checks this as it lists, before reading anything). */
export function checkImageFileSize(file: string, bytes: number): void {
  if (bytes > MAX_IMAGE_FILE_BYTES) {
    throw new UserError('bad_dataset',
      `${file} is ${bytes.toLocaleString('en-US')} bytes, too large for a 32x32 image (at most ${MAX_IMAGE_FILE_BYTES.toLocaleString('en-US')}): resize or re-encode it`);
  }
}

/** What an image file in a dataset folder may be: a regular file no larger than a 32x32 image can sensibly be. */
export function imageFileRead(file: string): RegularFileRead {
  return { name: file, kind: 'an image (a JPEG or PNG file)', maxBytes: MAX_IMAGE_FILE_BYTES, code: 'bad_dataset' };
}

/** Decodes one JPEG or PNG of 32x32 pixels into `out` at `offset` (3,072 bytes, C, H, W); anything else is a bad_dataset error naming `file`. */
export function decodeImageInto(bytes: Uint8Array, file: string, out: Uint8Array, offset: number): void {
  checkImageFileSize(file, bytes.length);
  if (isJpeg(bytes)) {
    const frame = jpegFrame(bytes);
    if (!frame) throw new UserError('bad_dataset', `${file} is not a valid JPEG image (no frame header)`);
    checkSize(file, frame);
    const sampling = libjpegSampling(frame);
    let decoded: { data: Uint8Array };
    try {
      // Strict: a damaged file is an error, not a half-grey image trained on in silence.
      decoded = jpeg.decode(bytes, {
        useTArray: true, formatAsRGBA: false, tolerantDecoding: false,
        maxResolutionInMP: PLANE / 1e6, maxMemoryUsageInMB: MAX_JPEG_MEMORY_MB,
        colorTransform: sampling ? false : undefined,
      });
    } catch (e) {
      throw new UserError('bad_dataset', `${file} is not a valid JPEG image (${(e as Error).message})`);
    }
    if (sampling) yccToPlanes(decoded.data, sampling[0], sampling[1], out, offset);
    else toPlanes(decoded.data, 3, out, offset); // jpeg-js expands grey and CMYK to RGB itself
  } else if (isPng(bytes)) {
    const png = pngLayout(bytes, file);
    checkSize(file, png);
    checkPngInflates(file, png.idat);
    let decoded: { data: Uint8Array };
    try {
      decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new UserError('bad_dataset', `${file} is not a valid PNG image (${(e as Error).message})`);
    }
    toPlanes(decoded.data, 4, out, offset); // pngjs always gives 8-bit RGBA (grey copied to RGB)
  } else {
    throw new UserError('bad_dataset', `${file} is not a JPEG or PNG image: an image folder must hold only images`);
  }
}
