// The checkpoint reader against what anyone can hand it: random bytes, damaged checkpoints, and forgeries whose
// checksum is recomputed (the SHA-256 proves nothing about who wrote a file). It returns a state a run can have
// written, or refuses with bad_checkpoint; it never throws anything else, and never takes long.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { runConfigSchema } from '../../sidecar/protocol';
import { CHECKPOINT_MAGIC, CHECKPOINT_VERSION, decodeCheckpoint, encodeCheckpoint, readCheckpointAsync } from '../../sidecar/store/checkpoint';
import type { TrainingState } from '../../sidecar/store/state';
import { fuzzOptions, resolvesOrRefuses, returnsOrRefuses } from '../support/fuzz';
import { sampleState, tempDir } from './helpers';

const CODES = ['bad_checkpoint'];

/** Everything a decoded checkpoint promises the trainer and the kernels. */
function assertUsable(s: TrainingState): void {
  const n = s.permutation.length;
  for (const a of [s.params, s.m, s.v, s.vMax]) assert.equal(a.length, PARAMETER_COUNT);
  assert.ok(runConfigSchema.safeParse(s.config).success);
  const seen = new Set<number>();
  for (const i of s.permutation) {
    assert.ok(i < n && !seen.has(i), `permutation entry ${i}`);
    seen.add(i);
  }
  assert.ok(n >= s.config.batchSize && s.cursor <= n);
  assert.ok(s.step >= s.epoch && s.step <= s.epoch * n + s.cursor && s.lossCount <= s.step);
  assert.ok(!s.v.some((x) => x < 0) && !s.vMax.some((x) => x < 0));
  assert.ok(s.rng.some((w) => w !== 0));
}

/** A file in our format around any header and payload, with a correct checksum. */
function rawCheckpoint(header: unknown, payload: Uint8Array, version = CHECKPOINT_VERSION): Buffer {
  const json = Buffer.from(JSON.stringify(header) ?? 'null', 'utf8');
  const prefix = Buffer.alloc(16);
  CHECKPOINT_MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(version, 8);
  prefix.writeUInt32LE(json.length, 12);
  const body = Buffer.concat([prefix, json, Buffer.alloc((4 - ((16 + json.length) % 4)) % 4), payload]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

const anyNumber = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constantFrom(0, 1, -1, 2 ** 32, Number.MAX_SAFE_INTEGER));
// Mostly what a real header could hold, now and then anything: so that most forgeries reach the deeper checks.
const mostly = <T, U>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) => fc.oneof({ weight: 12, arbitrary: usual }, { weight: 1, arbitrary: odd });
const count = mostly(fc.nat({ max: 200 }), anyNumber);
const valid = sampleState();

test('random bytes, with or without our magic, are refused as bad_checkpoint', () => {
  const prefix = Buffer.concat([CHECKPOINT_MAGIC, Buffer.from([1, 0, 0, 0])]);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), (bytes, magic) => {
    const buf = magic ? Buffer.concat([prefix, bytes]) : Buffer.from(bytes);
    const r = returnsOrRefuses(() => decodeCheckpoint(buf, 'fuzz.ckpt'), CODES);
    if (!(r instanceof Error)) assertUsable(r);
  }), fuzzOptions());
});

test('a real checkpoint with bytes changed, cut or appended is refused, and so it is with its checksum recomputed unless still usable', () => {
  const good = encodeCheckpoint(valid);
  const edit = fc.record({
    flips: fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat({ max: good.length }), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 64 }),
    rehash: fc.boolean(),
  });
  fc.assert(fc.property(edit, ({ flips, cut, extra, rehash }) => {
    let buf = Buffer.from(good.subarray(0, good.length - 32));
    for (const [at, x] of flips) if (at < buf.length) buf[at] ^= x;
    if (cut !== undefined) buf = buf.subarray(0, cut);
    buf = Buffer.concat([buf, extra]);
    const hash = rehash ? createHash('sha256').update(buf).digest() : good.subarray(good.length - 32);
    const r = returnsOrRefuses(() => decodeCheckpoint(Buffer.concat([buf, hash]), 'fuzz.ckpt'), CODES);
    if (!(r instanceof Error)) assertUsable(r);
  }), fuzzOptions());
});

test('a forged header with a recomputed checksum is either a usable state or refused', () => {
  const header = fc.record({
    runId: mostly(fc.constant('r-1'), fc.string({ maxLength: 20 })),
    config: fc.oneof({ weight: 4, arbitrary: fc.constant(valid.config) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      { weight: 2, arbitrary: fc.record({ batchSize: anyNumber, seed: anyNumber }).map((c) => ({ ...valid.config, ...c })) }),
    step: count,
    epoch: count,
    cursor: count,
    rng: mostly(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()), fc.oneof(fc.constant([0, 0, 0, 0]), fc.jsonValue({ maxDepth: 1 }))),
    lossSum: mostly(fc.double({ noNaN: true }), fc.constantFrom('NaN', 'Infinity', '-Infinity', 'nan')),
    lossCount: count,
    forkStep: fc.option(count, { nil: undefined }),
    datasetId: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
  }, { requiredKeys: ['runId', 'config', 'step', 'epoch', 'cursor', 'rng', 'lossSum', 'lossCount'] });
  const permutation = fc.oneof(
    fc.nat({ max: 64 }).chain((n) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n })),
    fc.array(fc.nat({ max: 80 }), { maxLength: 64 }),
    fc.array(fc.nat(), { maxLength: 8 }),
  );
  const moment = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.float() });
  const forgery = fc.record({
    header,
    permutation,
    paramCount: mostly(fc.constant(PARAMETER_COUNT), fc.nat({ max: 100 })),
    v: fc.array(fc.tuple(fc.nat({ max: PARAMETER_COUNT - 1 }), moment), { maxLength: 4 }),
    coherent: fc.boolean(), // counts made to fit the permutation, so that the arrays' own checks are reached
    lengthLies: mostly(fc.constant(undefined), fc.record({ params: fc.nat({ max: 2 * PARAMETER_COUNT }), permutation: anyNumber }, { requiredKeys: [] })),
  });
  fc.assert(fc.property(forgery, ({ header: h, permutation: perm, paramCount, v, coherent, lengthLies }) => {
    if (coherent) {
      const n = perm.length;
      const cursor = Number.isInteger(h.cursor) ? Math.abs(h.cursor as number) % (n + 1) : 0;
      const epoch = Number.isInteger(h.epoch) ? Math.abs(h.epoch as number) % 3 : 0;
      const step = Math.max(epoch, cursor > 0 ? 1 : 0);
      Object.assign(h, { cursor, epoch, step, lossCount: 0, config: { ...valid.config, batchSize: Math.max(1, Math.min(n, 4)) } });
      delete h.forkStep;
    }
    const arrays = [new Float32Array(paramCount), new Float32Array(paramCount), new Float32Array(paramCount), new Float32Array(paramCount)];
    for (const [i, x] of v) if (i < paramCount) arrays[2][i] = x;
    const lengths = { params: paramCount, m: paramCount, v: paramCount, vMax: paramCount, permutation: perm.length, ...lengthLies };
    const payload = Buffer.concat([...arrays.map((a) => Buffer.from(a.buffer)), Buffer.from(Uint32Array.from(perm).buffer)]);
    const r = returnsOrRefuses(() => decodeCheckpoint(rawCheckpoint({ ...h, lengths }, payload), 'forged.ckpt'), CODES);
    if (!(r instanceof Error)) assertUsable(r);
  }), fuzzOptions());
});

test('any bytes in a file are read by readCheckpointAsync into a usable state or refused, never thrown otherwise', async () => {
  const dir = tempDir();
  const file = join(dir, 'fuzz.ckpt');
  const good = encodeCheckpoint(valid);
  const bytes = fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.nat({ max: good.length }).map((n) => good.subarray(0, n)), fc.constant(good));
  await fc.assert(fc.asyncProperty(bytes, async (b) => {
    writeFileSync(file, b);
    const r = await resolvesOrRefuses(() => readCheckpointAsync(file), CODES);
    if (!(r instanceof Error)) assertUsable(r);
  }), fuzzOptions(100));
});
