// A user's own picture to the network's input: any JPEG, PNG or WebP (told apart by content, not by name), made
// 32x32 the way the tutorial would with torchvision: PIL opens it, .convert('RGB') drops alpha and copies grey to
// R, G and B, and transforms.Resize((32, 32)) resamples it with PIL's bilinear filter (antialiased when shrinking;
// codecs.ts). An image already 32x32 is decoded exactly as the training set is (data/decodeImage.ts).
//
// Pictures come from anywhere, so sizes are bounded before anything is decoded: the file, and the pixel count its
// header declares.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImageInto } from '../data/decodeImage';
import { UserError } from '../errors';
import { IMAGE_BYTES, IMAGE_SIZE } from '../nn/spec';
import { readRegularFile } from '../regularFile';
import { decodeWebp, resizeRgba } from './codecs';

/** A photo straight from a phone is a few MB; 32 MB leaves room without letting a disk image in. */
export const MAX_USER_IMAGE_BYTES = 32 << 20;
/** 40 megapixels: a 160 MB RGBA buffer at most. */
export const MAX_USER_IMAGE_PIXELS = 40_000_000;

/** What the UI says about how an image became 32x32 (one sentence, shown beside the two pictures). */
export const RESIZE_NOTE = "Resized to 32x32 as the tutorial's torchvision would: PIL's convert('RGB') then transforms.Resize((32, 32)), PIL's bilinear filter (antialiased), aspect ratio not kept.";

export type ImageFormat = 'jpeg' | 'png' | 'webp';

export interface UserImage {
  /** 3,072 bytes, C, H, W: what the network sees. */
  pixels: Uint8Array;
  format: ImageFormat;
  width: number;
  height: number;
  resized: boolean;
}

function formatOf(b: Uint8Array): ImageFormat | undefined {
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length > 16 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** Reads an image file a user chose (Explorer, command line, a path from the dashboard) and makes it 32x32. */
export async function readUserImage(path: string): Promise<UserImage> {
  return userImage(await readUserImageBytes(path), path);
}

/** The file's bytes, bounded as readUserImage bounds them (the dashboard shows a small original as it was given). */
export function readUserImageBytes(path: string): Promise<Buffer> {
  return readRegularFile(path, { name: path, kind: 'an image (PNG, JPEG or WebP)', maxBytes: MAX_USER_IMAGE_BYTES, code: 'bad_image' });
}

export const MIME_TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const satisfies Record<ImageFormat, string>;

/** The same from bytes already in memory (an image dropped onto the dashboard); `name` names it in errors. */
export async function userImage(bytes: Uint8Array, name: string): Promise<UserImage> {
  if (bytes.length > MAX_USER_IMAGE_BYTES) {
    throw new UserError('bad_image', `${name} is ${bytes.length.toLocaleString('en-US')} bytes, more than an image can be here (at most ${MAX_USER_IMAGE_BYTES.toLocaleString('en-US')})`);
  }
  const format = formatOf(bytes);
  if (!format) throw new UserError('bad_image', `${name} is not a PNG, JPEG or WebP image (its first bytes are not any of theirs)`);
  const size = declaredSize(bytes, format);
  if (!size) throw new UserError('bad_image', `${name} is not a valid ${format.toUpperCase()} image (no readable size in its header)`);
  checkPixels(name, size.width, size.height);
  const pixels = new Uint8Array(IMAGE_BYTES);
  if (size.width === IMAGE_SIZE && size.height === IMAGE_SIZE && format !== 'webp') {
    // The training set's own decoder, so a CIFAR-10 test image classifies here as in the gallery.
    try {
      decodeImageInto(bytes, name, pixels, 0);
    } catch (e) {
      throw e instanceof UserError ? new UserError('bad_image', e.message) : e;
    }
    return { pixels, format, ...size, resized: false };
  }
  const rgba = await decodeRgba(bytes, format, name);
  for (let i = 3; i < rgba.data.length; i += 4) rgba.data[i] = 255; // convert('RGB'): alpha dropped, not composited
  const small = rgba.width === IMAGE_SIZE && rgba.height === IMAGE_SIZE ? rgba.data : resizeRgba(new Uint8Array(rgba.data.buffer, rgba.data.byteOffset, rgba.data.byteLength), rgba.width, rgba.height, IMAGE_SIZE, IMAGE_SIZE);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let p = 0; p < plane; p++) {
    pixels[p] = small[4 * p];
    pixels[plane + p] = small[4 * p + 1];
    pixels[2 * plane + p] = small[4 * p + 2];
  }
  return { pixels, format, width: rgba.width, height: rgba.height, resized: rgba.width !== IMAGE_SIZE || rgba.height !== IMAGE_SIZE };
}

interface Rgba {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

function checkPixels(name: string, width: number, height: number): void {
  if (width < 1 || height < 1) throw new UserError('bad_image', `${name} declares an empty image (${width}x${height} pixels)`);
  if (width * height > MAX_USER_IMAGE_PIXELS) {
    throw new UserError('bad_image', `${name} is ${width}x${height} pixels, more than ${(MAX_USER_IMAGE_PIXELS / 1e6).toFixed(0)} megapixels: scale it down first`);
  }
}

async function decodeRgba(bytes: Uint8Array, format: ImageFormat, name: string): Promise<Rgba> {
  try {
    if (format === 'jpeg') {
      return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: MAX_USER_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    }
    if (format === 'png') return PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return await decodeWebp(bytes);
  } catch (e) {
    throw new UserError('bad_image', `${name} is not a valid ${format.toUpperCase()} image (${(e as Error).message || 'it could not be decoded'})`);
  }
}

// The size a header declares, read before decoding so that a bomb is refused before memory is spent on it.
function declaredSize(b: Uint8Array, format: ImageFormat): { width: number; height: number } | undefined {
  if (format === 'png') {
    if (b.length < 24) return undefined;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { width: v.getUint32(16), height: v.getUint32(20) };
  }
  if (format === 'webp') return webpSize(b);
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) { i++; continue; }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  return undefined;
}

// WebP's first chunk: VP8X (extended: canvas size, 24-bit minus one), VP8L (lossless: 14-bit sizes minus one after
// the 0x2f signature) or VP8 (lossy: 14-bit sizes after the 9d 01 2a start code).
function webpSize(b: Uint8Array): { width: number; height: number } | undefined {
  if (b.length < 30) return undefined;
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  const d = 20;
  if (chunk === 'VP8X') return { width: 1 + (b[d + 4] | (b[d + 5] << 8) | (b[d + 6] << 16)), height: 1 + (b[d + 7] | (b[d + 8] << 8) | (b[d + 9] << 16)) };
  if (chunk === 'VP8L' && b[d] === 0x2f) {
    const bits = b[d + 1] | (b[d + 2] << 8) | (b[d + 3] << 16) | (b[d + 4] << 24);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
  }
  if (chunk === 'VP8 ' && b[d + 3] === 0x9d && b[d + 4] === 0x01 && b[d + 5] === 0x2a) {
    return { width: (b[d + 6] | (b[d + 7] << 8)) & 0x3fff, height: (b[d + 8] | (b[d + 9] << 8)) & 0x3fff };
  }
  return undefined;
}
