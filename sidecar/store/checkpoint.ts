// Our `.ckpt` format (DESIGN.md "Nothing lost"): everything a run needs to continue bit for bit.
//
//   bytes 0..7     magic "ADAMCKPT"
//   bytes 8..11    format version, uint32 LE (1)
//   bytes 12..15   header length H, uint32 LE
//   16..16+H       JSON header (UTF-8): runId, config, step, epoch, cursor, rng, lossSum, lossCount, parent,
//                  datasetId, augmentSeed (with augmentation) and the length of every array below
//   zero padding to a multiple of 4 bytes
//   float32 LE     params, m, v, vMax
//   uint32 LE      permutation
//   32 bytes       SHA-256 of every byte before it
//
// Decoding checks all of it before it builds anything, so a bad file is refused whole, never half-loaded. The
// checksum only says the file is the one its writer wrote, and anyone can write one: every field is also checked
// for what a real run can have written (a permutation of the training set, a cursor and step counts that fit it,
// second moments that are not negative), so that nothing out of range reaches the kernels.
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { closeSync, fsyncSync, openSync, promises as fsp, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as z from 'zod';
import { UserError } from '../errors';
import { PARAMETER_COUNT } from '../nn/spec';
import { runConfigSchema } from '../protocol';
import { readRegularFile, readRegularFileSync, type RegularFileRead } from '../regularFile';
import { RUN_ID_PATTERN, resolveUserPath } from './paths';
import type { TrainingState } from './state';

export const CHECKPOINT_MAGIC = Buffer.from('ADAMCKPT', 'latin1');
export const CHECKPOINT_VERSION = 1;
const PREFIX_BYTES = 16;
const HASH_BYTES = 32;
const MAX_HEADER_BYTES = 1 << 20;
// More training images than the engine's 1 GiB of WebAssembly memory holds at 3,072 bytes each (about 350,000).
const MAX_PERMUTATION = 1 << 20;
/** The largest checkpoint there can be (header, four parameter-sized arrays, permutation, hash): bigger is refused unread. */
export const MAX_CHECKPOINT_BYTES = PREFIX_BYTES + MAX_HEADER_BYTES + 3 + 4 * (4 * PARAMETER_COUNT + MAX_PERMUTATION) + HASH_BYTES;
const LITTLE_ENDIAN = endianness() === 'LE';

const count = z.number().int().min(0);
const headerSchema = z.object({
  runId: z.string().regex(/^[A-Za-z0-9._-]+$/).max(128),
  config: z.unknown(),
  step: count,
  epoch: count,
  cursor: count,
  rng: z.tuple([count.max(0xffffffff), count.max(0xffffffff), count.max(0xffffffff), count.max(0xffffffff)]),
  // JSON has no NaN: a diverged run's loss sum is written as the string "NaN" (or "Infinity").
  lossSum: z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]),
  lossCount: count,
  parentRunId: z.string().regex(/^[A-Za-z0-9._-]+$/).max(128).optional(),
  forkStep: count.optional(),
  datasetId: z.string().max(4096).optional(),
  augmentSeed: count.max(0xffffffff).optional(),
  lengths: z.object({ params: count, m: count, v: count, vMax: count, permutation: count.max(MAX_PERMUTATION) }),
});
type Header = z.infer<typeof headerSchema>;

export function encodeCheckpoint(state: TrainingState): Buffer {
  const { bytes, hashAt } = layOut(state);
  createHash('sha256').update(bytes.subarray(0, hashAt)).digest().copy(bytes, hashAt);
  return bytes;
}

/**
 * A checkpoint's bytes, everything but its hash (the last 32 bytes, from `hashAt`): copied out of `state` at once,
 * so the run may go on while the hash is computed and the file written.
 */
function layOut(state: TrainingState): { bytes: Buffer; hashAt: number } {
  const header: Header = {
    runId: state.runId,
    config: state.config,
    step: state.step,
    epoch: state.epoch,
    cursor: state.cursor,
    rng: [...state.rng] as Header['rng'],
    lossSum: Number.isFinite(state.lossSum) ? state.lossSum : (String(state.lossSum) as 'NaN'),
    lossCount: state.lossCount,
    ...(state.parentRunId !== undefined ? { parentRunId: state.parentRunId } : {}),
    ...(state.forkStep !== undefined ? { forkStep: state.forkStep } : {}),
    ...(state.datasetId !== undefined ? { datasetId: state.datasetId } : {}),
    ...(state.augmentSeed !== undefined ? { augmentSeed: state.augmentSeed } : {}),
    lengths: { params: state.params.length, m: state.m.length, v: state.v.length, vMax: state.vMax.length, permutation: state.permutation.length },
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const dataStart = align4(PREFIX_BYTES + json.length);
  const arrays = [state.params, state.m, state.v, state.vMax, state.permutation];
  const dataBytes = arrays.reduce((n, a) => n + a.length * 4, 0);
  const out = Buffer.alloc(dataStart + dataBytes + HASH_BYTES);
  CHECKPOINT_MAGIC.copy(out, 0);
  out.writeUInt32LE(CHECKPOINT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, PREFIX_BYTES);
  let offset = dataStart;
  for (const a of arrays) offset = writeLittleEndian(out, offset, a);
  return { bytes: out, hashAt: offset };
}

/** Decodes and checks a checkpoint; every problem is a UserError('bad_checkpoint') naming the file. */
export function decodeCheckpoint(buf: Buffer, fileNameForErrors: string): TrainingState {
  const bad = (problem: string) => new UserError('bad_checkpoint', `${fileNameForErrors} ${problem}`);
  if (buf.length < CHECKPOINT_MAGIC.length || !buf.subarray(0, CHECKPOINT_MAGIC.length).equals(CHECKPOINT_MAGIC)) {
    throw bad('is not a Train with Adam checkpoint (wrong magic bytes)');
  }
  if (buf.length < PREFIX_BYTES + HASH_BYTES) throw bad(`is truncated (${buf.length} bytes)`);
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) throw bad(`has format version ${version}; this adam-trainer reads version ${CHECKPOINT_VERSION}`);
  const headerBytes = buf.readUInt32LE(12);
  if (headerBytes > MAX_HEADER_BYTES) throw bad(`is damaged (header length ${headerBytes} is implausible)`);

  // The checksum comes first: a damaged file is reported as damaged, not as whatever its damage looks like.
  const hashAt = buf.length - HASH_BYTES;
  const intact = createHash('sha256').update(buf.subarray(0, hashAt)).digest().equals(buf.subarray(hashAt));
  const header = parseHeader(buf, headerBytes);
  const expected = expectedBytes(header, headerBytes);
  if (!intact) {
    if (expected !== undefined && buf.length < expected) throw bad(`is truncated (${buf.length} of ${expected} bytes)`);
    if (PREFIX_BYTES + headerBytes + HASH_BYTES > buf.length) throw bad(`is truncated (${buf.length} bytes, the header alone needs more)`);
    throw bad('is damaged (checksum mismatch): the file was changed or not completely written');
  }
  if (!header.ok) throw bad(`has an invalid header: ${header.problem}`);
  if (buf.length !== expected) throw bad(`is damaged (${buf.length} bytes where its header describes ${expected})`);
  const h = header.value;
  const { lengths } = h;
  const dataStart = align4(PREFIX_BYTES + headerBytes);

  for (const name of ['params', 'm', 'v', 'vMax'] as const) {
    if (lengths[name] !== PARAMETER_COUNT) {
      throw bad(`holds ${lengths[name]} values for ${name}, this network has ${PARAMETER_COUNT} parameters; it is from a different network`);
    }
  }
  const config = runConfigSchema.safeParse(h.config);
  if (!config.success) {
    const issue = config.error.issues[0];
    const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
    throw bad(`has an invalid configuration: ${field} ${issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message}`);
  }
  const counts = countsProblem(h, config.data.batchSize);
  if (counts) throw bad(`is not one a run can have written: ${counts}`);
  // The epoch's flips and crops come from augmentSeed: a run with augmentation always writes one, a run without never.
  if ((config.data.augment !== 'none') !== (h.augmentSeed !== undefined)) {
    throw bad(`is not one a run can have written: augment ${config.data.augment} ${h.augmentSeed === undefined ? 'without' : 'with'} an augmentation seed`);
  }

  let offset = dataStart;
  const params = readFloat32(buf, offset, lengths.params);
  offset += lengths.params * 4;
  const m = readFloat32(buf, offset, lengths.m);
  offset += lengths.m * 4;
  const v = readFloat32(buf, offset, lengths.v);
  offset += lengths.v * 4;
  const vMax = readFloat32(buf, offset, lengths.vMax);
  offset += lengths.vMax * 4;
  const permutation = readUint32(buf, offset, lengths.permutation);
  const arrays = arraysProblem(permutation, v, vMax);
  if (arrays) throw bad(`is not one a run can have written: ${arrays}`);

  return {
    runId: h.runId,
    config: config.data,
    step: h.step,
    epoch: h.epoch,
    cursor: h.cursor,
    rng: h.rng,
    permutation,
    params,
    m,
    v,
    vMax,
    lossSum: typeof h.lossSum === 'number' ? h.lossSum : Number(h.lossSum),
    lossCount: h.lossCount,
    ...(h.parentRunId !== undefined ? { parentRunId: h.parentRunId } : {}),
    ...(h.forkStep !== undefined ? { forkStep: h.forkStep } : {}),
    ...(h.datasetId !== undefined ? { datasetId: h.datasetId } : {}),
    ...(h.augmentSeed !== undefined ? { augmentSeed: h.augmentSeed } : {}),
  };
}

// The header's counts against each other. Every step draws at least one image of the epoch's permutation and
// every epoch takes at least one step, so the step count lies between the epoch count and the images drawn.
function countsProblem(h: Header, batchSize: number): string | undefined {
  const n = h.lengths.permutation;
  if (n < batchSize) return `its permutation of ${n} images is shorter than one batch of ${batchSize}`;
  if (h.cursor > n) return `data cursor ${h.cursor} lies beyond its permutation of ${n} images`;
  if (h.step < h.epoch) return `step ${h.step} is fewer than its ${h.epoch} finished epochs`;
  if (h.step > h.epoch * n + h.cursor) return `step ${h.step} draws more images than ${h.epoch} epoch${h.epoch === 1 ? '' : 's'} of ${n} and cursor ${h.cursor} hold`;
  if (h.cursor > 0 && h.step === 0) return `data cursor ${h.cursor} at step 0`;
  if (h.lossCount > h.step) return `its loss sum covers ${h.lossCount} steps of ${h.step}`;
  if (h.forkStep !== undefined && h.forkStep > h.step) return `fork step ${h.forkStep} is after its step ${h.step}`;
  if (h.rng.every((w) => w === 0)) return 'its random generator state is all zeros, which the generator never reaches';
  return undefined;
}

// The arrays a kernel indexes with, or takes a square root of: the permutation must hold each image index of the
// training set once, and the second moments (means of squares) cannot be negative. Parameters and first moments
// may be anything, NaN included: a diverged run's checkpoint is still that run's.
function arraysProblem(permutation: Uint32Array, v: Float32Array, vMax: Float32Array): string | undefined {
  const n = permutation.length;
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const index = permutation[i];
    if (index >= n) return `permutation entry ${i} is ${index}, outside the ${n} training images`;
    if (seen[index]) return `permutation holds image ${index} twice`;
    seen[index] = 1;
  }
  for (const [name, a] of [['v', v], ['vMax', vMax]] as const) {
    for (let i = 0; i < a.length; i++) if (a[i] < 0) return `${name}[${i}] is ${a[i]}; a mean of squares is never negative`;
  }
  return undefined;
}

type HeaderResult = { ok: true; value: Header } | { ok: false; problem: string };

function parseHeader(buf: Buffer, headerBytes: number): HeaderResult {
  if (PREFIX_BYTES + headerBytes > buf.length) return { ok: false, problem: 'it is longer than the file' };
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerBytes));
  } catch {
    return { ok: false, problem: 'it is not valid JSON' };
  }
  const parsed = headerSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, problem: `${issue.path.join('.') || 'header'} ${issue.message}` };
}

function expectedBytes(header: HeaderResult, headerBytes: number): number | undefined {
  if (!header.ok) return undefined;
  const l = header.value.lengths;
  return align4(PREFIX_BYTES + headerBytes) + 4 * (l.params + l.m + l.v + l.vMax + l.permutation) + HASH_BYTES;
}

function checkpointRead(path: string): RegularFileRead {
  return { name: `checkpoint ${path}`, kind: 'a checkpoint file', maxBytes: MAX_CHECKPOINT_BYTES, code: 'bad_checkpoint' };
}

/**
 * Reads and checks a checkpoint file chosen by the user (any folder; validated by format, checksum and content):
 * a regular file no bigger than a checkpoint can be, so a device or a FIFO is refused, never read or waited on.
 */
export function readCheckpoint(file: string): TrainingState {
  const path = resolveUserPath(file, 'checkpoint');
  return decodeCheckpoint(readRegularFileSync(path, checkpointRead(path)), `checkpoint ${path}`);
}

/** readCheckpoint without blocking the event loop on the read (the server's). */
export async function readCheckpointAsync(file: string): Promise<TrainingState> {
  const path = resolveUserPath(file, 'checkpoint');
  return decodeCheckpoint(await readRegularFile(path, checkpointRead(path)), `checkpoint ${path}`);
}

export interface CheckpointFile {
  step: number;
  path: string;
  state?: TrainingState; // loaded already (latest.ckpt has to be read to learn its step)
}

/**
 * The checkpoints in a folder (`step-<N>.ckpt`, and `latest.ckpt`, read to learn its step; a damaged
 * one is left out here, reading it directly says why), oldest first.
 */
export function checkpointsIn(dir: string): CheckpointFile[] {
  const names = readdirSync(dir);
  const out: CheckpointFile[] = [];
  for (const name of names) {
    const m = /^step-(\d+)\.ckpt$/.exec(name);
    if (m) out.push({ step: Number(m[1]), path: join(dir, name) });
  }
  if (names.includes('latest.ckpt')) {
    try {
      const state = readCheckpoint(join(dir, 'latest.ckpt'));
      out.push({ step: state.step, path: join(dir, 'latest.ckpt'), state });
    } catch {
      // skipped
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The newest checkpoint in a folder (a run folder or a --checkpoint-dir), checked and loaded. */
export function newestCheckpointIn(dir: string): TrainingState {
  const newest = checkpointsIn(dir).pop();
  if (!newest) throw noCheckpointIn(dir);
  return newest.state ?? readCheckpoint(newest.path);
}

/** newestCheckpointIn without blocking the event loop on its reads (the server's). */
export async function newestCheckpointInAsync(dir: string): Promise<TrainingState> {
  const names = await fsp.readdir(dir);
  const steps = names.map((name) => /^step-(\d+)\.ckpt$/.exec(name)).filter((m) => m !== null).map((m) => ({ step: Number(m[1]), path: join(dir, m[0]) }));
  let latest: TrainingState | undefined;
  if (names.includes('latest.ckpt')) latest = await readCheckpointAsync(join(dir, 'latest.ckpt')).catch(() => undefined); // skipped, as checkpointsIn does
  const newest = steps.sort((a, b) => a.step - b.step).pop();
  if (latest && (!newest || latest.step >= newest.step)) return latest;
  if (!newest) throw noCheckpointIn(dir);
  return readCheckpointAsync(newest.path);
}

function noCheckpointIn(dir: string): UserError {
  return new UserError('bad_checkpoint', `folder ${dir} holds no readable checkpoint (latest.ckpt or step-<N>.ckpt)`);
}

/**
 * Writes a checkpoint so that `file` always holds either the old complete checkpoint or the new one: a temporary
 * file in the same folder, fsync, rename over the old name, fsync the folder (so the rename itself survives a power
 * cut). Off the calling thread: `state` is copied before this returns (the run may change it at once), then the hash
 * (WebCrypto) and the file system's calls run on libuv's thread pool. Callers keep the writes to one file in order
 * (the trainer's write queue), so a newer checkpoint is never overwritten by an older one.
 */
export function writeCheckpointAtomic(file: string, state: TrainingState): Promise<void> {
  const { bytes, hashAt } = layOut(state);
  return (async () => {
    const hash = await webcrypto.subtle.digest('SHA-256', bytes.subarray(0, hashAt));
    bytes.set(new Uint8Array(hash), hashAt);
    await writeFileAtomicAsync(file, bytes);
  })();
}

/** writeFileAtomic with the file system's calls on libuv's thread pool: the same temporary file, fsyncs and rename. */
async function writeFileAtomicAsync(file: string, data: Buffer): Promise<void> {
  const dir = dirname(file);
  const temp = tempFileFor(file);
  const handle = await fsp.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fsp.unlink(temp).catch(() => undefined);
    throw e;
  }
  await handle.close();
  try {
    await fsp.rename(temp, file);
  } catch (e) {
    await fsp.unlink(temp).catch(() => undefined);
    throw e;
  }
  // The folder too, so the rename survives a power cut (best effort: Windows cannot open a folder for fsync).
  const folder = await fsp.open(dir, 'r').catch(() => undefined);
  if (folder) await folder.sync().catch(() => undefined).finally(() => folder.close().catch(() => undefined));
}

/** Where a write of `file` goes before its rename: `.<name>.<pid of the writer>.<8 hex digits>.tmp` (TEMP_FILE). */
function tempFileFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export function writeFileAtomic(file: string, data: Buffer | string): void {
  const dir = dirname(file);
  const temp = tempFileFor(file);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkQuietly(temp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(temp, file);
  } catch (e) {
    unlinkQuietly(temp);
    throw e;
  }
  fsyncDir(dir);
}

// writeFileAtomic's temporary files: `.<name>.<pid of the writer>.<8 hex digits>.tmp`.
const TEMP_FILE = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;
// A write takes well under a second: a temporary file this old is abandoned, whoever wrote it.
const ABANDONED_AFTER_MS = 3_600_000;

/**
 * Removes the temporary files that writers killed mid-write (a crash, kill -9, a power cut) left in `dir`: those whose
 * process is gone from this host, and any an hour old. A live writer's file is left alone. Returns the paths removed.
 * The commands that write run folders call it as they start (cleanAbandonedWrites).
 */
export async function removeAbandonedTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return []; // no folder yet
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_FILE.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    try {
      const st = await fsp.lstat(path);
      if (!st.isFile()) continue;
      if (processAlive(Number(m[1])) && Date.now() - st.mtimeMs < ABANDONED_AFTER_MS) continue;
      await fsp.unlink(path);
      removed.push(path);
    } catch {
      // gone already (another process cleaning up at the same time)
    }
  }
  return removed;
}

/** removeAbandonedTempFiles over a runs folder (each run's folder) and any other folders a command writes checkpoints to. */
export async function cleanAbandonedWrites(runsDir: string, ...others: string[]): Promise<string[]> {
  let runs: string[] = [];
  try {
    runs = (await fsp.readdir(runsDir, { withFileTypes: true })).filter((d) => d.isDirectory() && RUN_ID_PATTERN.test(d.name)).map((d) => join(runsDir, d.name));
  } catch {
    // no runs folder yet
  }
  const removed = await Promise.all([runsDir, ...runs, ...others].map(removeAbandonedTempFiles));
  return removed.flat();
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncDir(dir: string): void {
  // Windows cannot open a folder for fsync; there the rename is as durable as the OS makes it.
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function writeLittleEndian(out: Buffer, offset: number, a: Float32Array | Uint32Array): number {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    return offset + a.byteLength;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < a.length; i++, offset += 4) {
    if (a instanceof Float32Array) view.setFloat32(offset, a[i], true);
    else view.setUint32(offset, a[i], true);
  }
  return offset;
}

function readFloat32(buf: Buffer, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf.subarray(offset, offset + n * 4));
  else for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(offset + i * 4);
  return out;
}

function readUint32(buf: Buffer, offset: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf.subarray(offset, offset + n * 4));
  else for (let i = 0; i < n; i++) out[i] = buf.readUInt32LE(offset + i * 4);
  return out;
}
