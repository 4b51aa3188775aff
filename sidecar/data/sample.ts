// The small real CIFAR-10 sample shipped with the extension: data/sample.tar.gz, a gzipped tar of an image
// folder (train/<class>/*.jpg, test/<class>/*.jpg; made by scripts/pack-sample.mjs), so the package carries
// one file instead of 4,000. On first use it is extracted into the cache folder, into sample-<SHA-256 prefix
// of the archive>/, and from then on loaded as any image folder (imageFolder.ts): same pixels, and a decoded
// cache keyed by that folder. A new tar gets a folder of its own; an old one is never trusted for it.
//
// The extraction is atomic: into a temporary folder that is renamed into place, so the folder exists only
// when complete, and two processes extracting at once both end with the same folder. The bytes extracted are
// the bytes hashed, and only what an image folder holds is taken: regular files at train|test/<class>/<name>,
// each at most an image file's size; anything else (a link, a folder, an absolute path, '..') means the tar
// is not ours, and nothing is used.

import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Unpack, UnpackSync, type ReadEntry } from 'tar';
import { UserError } from '../errors';
import { readRegularFileSync } from '../regularFile';
import { MAX_IMAGE_FILE_BYTES } from './decodeImage';

export const SAMPLE_ARCHIVE = 'sample.tar.gz';
/** The tar is about 6 MB (1.3 MB gzipped): anything much larger, packed or unpacked, is not the sample. */
export const MAX_SAMPLE_ARCHIVE_BYTES = 64 << 20;
const TEMP_PREFIX = '.sample-extract-';
const ENTRY_PATH = /^(train|test)\/[A-Za-z0-9_-]+\/[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Where data/sample.tar.gz is. This file runs from source (sidecar/data/, two levels below the root, through
 * tsx) and bundled into dist/cli.js (one level below), so the nearest ancestor holding it wins. */
export function sampleArchive(): string {
  const tried: string[] = [];
  for (let up = 1; up <= 3; up++) {
    const candidate = resolve(__dirname, ...Array<string>(up).fill('..'), 'data', SAMPLE_ARCHIVE);
    if (existsSync(candidate)) return candidate;
    tried.push(candidate);
  }
  throw new UserError('bad_dataset', `the built-in sample is missing (looked for ${tried.join(', ')}); reinstall the extension, or pass --data DIR`);
}

interface Extraction {
  folder: string; // where the sample ends up
  temp: string; // where it is extracted first
  tarball: Buffer; // the tar of the bytes hashed, and so what is extracted
  refused: string[]; // entries that are not an image folder's files
  options: NonNullable<ConstructorParameters<typeof Unpack>[0]>;
}

function damaged(archive: string, why: string): UserError {
  return new UserError('bad_dataset', `the built-in sample ${archive} is damaged (${why}); reinstall the extension, or pass --data DIR`);
}

/** The tar inside a gzipped archive (bounded: a small file must not inflate into memory without limit), or the bytes themselves when they are a plain tar. */
function unpacked(bytes: Buffer, archive: string): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_SAMPLE_ARCHIVE_BYTES });
  } catch (e) {
    throw damaged(archive, (e as Error).message);
  }
}

function prepare(cacheDir: string, archive: string): Extraction | string {
  const packed = readRegularFileSync(archive, { name: archive, kind: 'the built-in sample (a tar file)', maxBytes: MAX_SAMPLE_ARCHIVE_BYTES, code: 'bad_dataset' });
  const folder = join(cacheDir, `sample-${createHash('sha256').update(packed).digest('hex').slice(0, 16)}`);
  if (isDirectory(folder)) return folder;
  const tarball = unpacked(packed, archive);
  mkdirSync(cacheDir, { recursive: true });
  removeAbandoned(cacheDir);
  const refused: string[] = [];
  const take = (path: string, entry: ReadEntry): boolean => {
    const ok = (entry.type === 'File' || entry.type === 'OldFile') && ENTRY_PATH.test(path) && (entry.size ?? 0) <= MAX_IMAGE_FILE_BYTES;
    if (!ok) refused.push(path);
    return ok;
  };
  const temp = mkdtempSync(join(cacheDir, TEMP_PREFIX));
  const options = {
    cwd: temp,
    strict: true, // a bad header or checksum is an error, not a warning
    preservePaths: false, // tar's own refusal of absolute paths and '..', kept explicit
    preserveOwner: false,
    noChmod: true, // the files are 0644 less the umask; chmod-ing 4,000 files was most of the time
    filter: (path: string, entry: ReadEntry | unknown) => take(path, entry as ReadEntry),
  };
  return { folder, temp, tarball, refused, options };
}

// Renames the complete extraction into place; a folder already there is another process's identical one.
function finish(x: Extraction, archive: string): string {
  const { temp } = x;
  try {
    if (x.refused.length) throw damaged(archive, `it holds ${x.refused.slice(0, 3).join(', ')}${x.refused.length > 3 ? ', ...' : ''}, which is not an image folder's file`);
    if (!isDirectory(join(temp, 'train')) || !isDirectory(join(temp, 'test'))) throw damaged(archive, 'it lacks train/ or test/');
    try {
      renameSync(temp, x.folder);
    } catch (e) {
      if (!isDirectory(x.folder)) throw e;
    }
    return x.folder;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

function failed(e: unknown, x: Extraction, archive: string): never {
  rmSync(x.temp, { recursive: true, force: true });
  throw e instanceof UserError ? e : damaged(archive, (e as Error).message);
}

/** The folder the sample is extracted to in `cacheDir`, extracting it first if need be. */
export async function extractSample(cacheDir: string, archive = sampleArchive()): Promise<string> {
  const x = prepare(cacheDir, archive);
  if (typeof x === 'string') return x;
  try {
    await new Promise<void>((done, fail) => {
      const unpack = new Unpack(x.options);
      unpack.on('error', fail);
      unpack.on('close', () => done());
      unpack.end(x.tarball);
    });
  } catch (e) {
    failed(e, x, archive);
  }
  return finish(x, archive);
}

/** extractSample for callers that cannot wait (the PyTorch export's plan names the folder). */
export function extractSampleSync(cacheDir: string, archive = sampleArchive()): string {
  const x = prepare(cacheDir, archive);
  if (typeof x === 'string') return x;
  try {
    new UnpackSync(x.options).end(x.tarball);
  } catch (e) {
    failed(e, x, archive);
  }
  return finish(x, archive);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// What a killed extraction left: temporary folders an hour old (younger ones may be another process's, at work).
function removeAbandoned(cacheDir: string): void {
  const abandoned = Date.now() - 3_600_000;
  for (const name of readdirSync(cacheDir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(cacheDir, name);
    try {
      if (statSync(path).mtimeMs < abandoned) rmSync(path, { recursive: true, force: true });
    } catch {
      /* another process removed it first */
    }
  }
}
