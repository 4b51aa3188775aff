// Decoded image-folder splits kept as one binary file each, so only the first run pays for decoding
// 60,000 JPEGs. The file's name comes from the folder's real path and its file list with sizes and
// modification times, so a changed folder is decoded again; a header and a SHA-256 of the payload are
// checked on every read, so a damaged cache file is rebuilt, never trusted.
//
// Layout (little-endian): 128-byte header
//   0 magic "ATDSPLIT", 8 u32 format version, 12 u32 image count, 16 u32 bytes per image,
//   24 32-byte key (the hash the name is made from), 56 32-byte SHA-256 of the payload, rest zero;
// then the payload: count label bytes, then count * 3,072 image bytes.

import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IMAGE_BYTES } from '../nn/spec';
import type { Split } from './types';

const MAGIC = Buffer.from('ATDSPLIT', 'latin1');
const VERSION = 1;
const HEADER_BYTES = 128;
const CHUNK_BYTES = 4 << 20; // read and write in 4 MB pieces, hashing as they pass

export interface CacheEntry {
  file: string;
  key: Buffer; // 32 bytes
}

export interface ListedFile {
  name: string; // relative to the split folder
  size: number;
  mtimeMs: number;
}

// The name's first part depends on the folder alone, so a rebuilt cache can replace its stale
// predecessors instead of piling up beside them.
export function cacheEntry(cacheDir: string, realFolder: string, split: string, files: ListedFile[]): CacheEntry {
  const folderId = createHash('sha256').update(`${realFolder}\0${split}`).digest('hex').slice(0, 16);
  const listing = JSON.stringify({ v: VERSION, realFolder, split, files: files.map((f) => [f.name, f.size, f.mtimeMs]) });
  const key = createHash('sha256').update(listing).digest();
  return { file: join(cacheDir, `decoded-${folderId}-${key.toString('hex').slice(0, 16)}.bin`), key };
}

function payloadParts(split: Split): Uint8Array[] {
  const parts: Uint8Array[] = [split.labels];
  for (let at = 0; at < split.images.length; at += CHUNK_BYTES) parts.push(split.images.subarray(at, at + CHUNK_BYTES));
  return parts;
}

// Fills `split` (already allocated with the expected count) from the cache; false when there is no usable
// cache file, in which case the caller decodes into the same buffers.
export async function readCachedSplit(entry: CacheEntry, split: Split): Promise<boolean> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(entry.file, 'r');
  } catch {
    return false;
  }
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { size } = await handle.stat();
    if (size !== HEADER_BYTES + split.count * (1 + IMAGE_BYTES)) return false;
    if ((await handle.read(header, 0, HEADER_BYTES, 0)).bytesRead !== HEADER_BYTES) return false;
    if (!header.subarray(0, 8).equals(MAGIC) || header.readUInt32LE(8) !== VERSION) return false;
    if (header.readUInt32LE(12) !== split.count || header.readUInt32LE(16) !== IMAGE_BYTES) return false;
    if (!header.subarray(24, 56).equals(entry.key)) return false;
    const hash = createHash('sha256');
    let position = HEADER_BYTES;
    for (const part of payloadParts(split)) {
      const { bytesRead } = await handle.read(part, 0, part.length, position);
      if (bytesRead !== part.length) return false;
      hash.update(part);
      position += part.length;
    }
    return hash.digest().equals(header.subarray(56, 88));
  } finally {
    await handle.close();
  }
}

// Temp file, fsync, rename: a crash or a second process leaves either the old file or the whole new one.
export async function writeCachedSplit(entry: CacheEntry, cacheDir: string, split: Split): Promise<void> {
  mkdirSync(cacheDir, { recursive: true });
  const temp = `${entry.file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fsp.open(temp, 'w');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(VERSION, 8);
    header.writeUInt32LE(split.count, 12);
    header.writeUInt32LE(IMAGE_BYTES, 16);
    entry.key.copy(header, 24);
    const hash = createHash('sha256');
    let position = HEADER_BYTES;
    for (const part of payloadParts(split)) {
      await handle.write(part, 0, part.length, position);
      hash.update(part);
      position += part.length;
    }
    hash.digest().copy(header, 56);
    await handle.write(header, 0, HEADER_BYTES, 0); // the header last: no checksum, no valid file
    await handle.sync();
    await handle.close();
    await fsp.rename(temp, entry.file);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fsp.rm(temp, { force: true });
    throw e;
  }
  removeStale(entry.file);
}

// Older caches of the same folder and split (same first part of the name) are dead weight of up to 150 MB,
// as are temp files that a killed process left behind (old enough not to be another one's write in progress).
function removeStale(current: string): void {
  const dir = dirname(current);
  const name = basename(current);
  const prefix = name.slice(0, 'decoded-'.length + 16);
  const abandoned = Date.now() - 3_600_000;
  for (const other of readdirSync(dir)) {
    if (other === name || !other.startsWith(prefix)) continue;
    const path = join(dir, other);
    try {
      if (other.endsWith('.bin') || (other.endsWith('.tmp') && statSync(path).mtimeMs < abandoned)) unlinkSync(path);
    } catch {
      /* another process may have removed it first */
    }
  }
}
