// PNG files built chunk by chunk, for what pngjs does not write: interlaced images, and bombs (a valid 32x32 PNG
// whose pixel data inflates to gigabytes).
import { constants, crc32, deflateRawSync, deflateSync } from 'node:zlib';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/** IHDR of a 32x32 image: 8-bit, `colorType` (2 RGB, 6 RGBA), Adam7 or not. */
export function ihdr32(colorType: 2 | 6, interlaced: boolean): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(32, 0);
  data.writeUInt32BE(32, 4);
  data.set([8, colorType, 0, 0, interlaced ? 1 : 0], 8);
  return pngChunk('IHDR', data);
}

/**
 * A valid 32x32 RGBA PNG whose one zlib stream inflates to `mib` MiB of zeros: 1 MiB of zeros deflated once and
 * flushed (so each copy stands alone) is about 1 KB, repeated, then the final block and the Adler-32 of the zeros.
 */
export function pngBomb(mib: number, interlaced: boolean): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const total = mib * 2 ** 20;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0);
  const stream = Buffer.concat([Buffer.from([0x78, 0xda]), ...new Array<Buffer>(mib).fill(block), deflateRawSync(Buffer.alloc(0)), adler]);
  return Buffer.concat([PNG_SIGNATURE, ihdr32(6, interlaced), pngChunk('IDAT', stream), pngChunk('IEND', Buffer.alloc(0))]);
}

/** An interlaced (Adam7) 32x32 RGB PNG of the pixels rgb(i) = [r, g, b] of pixel i, each row with filter type 0. */
export function interlacedPng(rgb: (i: number) => number[]): Buffer {
  const passes: Array<[number, number, number, number]> = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  const rows: Buffer[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < 32; y += dy) {
      const row = [0];
      for (let x = x0; x < 32; x += dx) row.push(...rgb(y * 32 + x));
      rows.push(Buffer.from(row));
    }
  }
  return Buffer.concat([PNG_SIGNATURE, ihdr32(2, true), pngChunk('IDAT', deflateSync(Buffer.concat(rows))), pngChunk('IEND', Buffer.alloc(0))]);
}
