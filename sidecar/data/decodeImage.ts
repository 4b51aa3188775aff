// One image file (JPEG or PNG, told apart by content, not by name) to 3,072 bytes in C, H, W order.
// Colour is converted as PIL's Image.convert('RGB') does, which is what torchvision's ImageFolder uses,
// so the same folder gives PyTorch and us the same pixels: grey is copied to R, G and B, alpha is dropped.

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { UserError } from '../errors';
import { IMAGE_SIZE } from '../nn/spec';
import { yccToPlanes } from './jpegColor';

const PLANE = IMAGE_SIZE * IMAGE_SIZE; // 1,024

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

function pngSize(b: Uint8Array): { width: number; height: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20) };
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

export function decodeImageInto(bytes: Uint8Array, file: string, out: Uint8Array, offset: number): void {
  if (isJpeg(bytes)) {
    const frame = jpegFrame(bytes);
    if (!frame) throw new UserError('bad_dataset', `${file} is not a valid JPEG image (no frame header)`);
    checkSize(file, frame);
    const sampling = libjpegSampling(frame);
    let decoded: { data: Uint8Array };
    try {
      // Strict: a damaged file is an error, not a half-grey image trained on in silence.
      decoded = jpeg.decode(bytes, {
        useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxResolutionInMP: 1,
        colorTransform: sampling ? false : undefined,
      });
    } catch (e) {
      throw new UserError('bad_dataset', `${file} is not a valid JPEG image (${(e as Error).message})`);
    }
    if (sampling) yccToPlanes(decoded.data, sampling[0], sampling[1], out, offset);
    else toPlanes(decoded.data, 3, out, offset); // jpeg-js expands grey and CMYK to RGB itself
  } else if (isPng(bytes)) {
    checkSize(file, pngSize(bytes));
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
