// The binary-layout reader against folders of batch files as they can be found: missing, empty, a folder in a file's
// place, sizes that are not whole records, labels past 9. Each folder loads (every record, labels 0-9) or is refused as
// bad_dataset naming what is wrong.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { loadDataset } from '../../sidecar/data/index';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { fuzzOptions, resolvesOrRefuses } from '../support/fuzz';
import { RECORD_BYTES, TRAIN_FILES } from './helpers';

const root = mkdtempSync(join(tmpdir(), 'adam-fuzz-bin-'));
after(() => rmSync(root, { recursive: true, force: true }));
let cases = 0;

const batchFile = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.oneof({ weight: 20, arbitrary: fc.nat({ max: 9 }) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 })
    .map((labels) => ({ kind: 'records' as const, labels })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'missing' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'folder' as const }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 3 * RECORD_BYTES + 7 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
);

test('a folder of batch files, whole or damaged, loads every record or is refused as bad_dataset', async () => {
  const layout = fc.record({ files: fc.array(batchFile, { minLength: 6, maxLength: 6 }), nested: fc.boolean() });
  await fc.assert(fc.asyncProperty(layout, async ({ files, nested }) => {
    const dir = join(root, String(cases++));
    const batches = nested ? join(dir, 'cifar-10-batches-bin') : dir;
    mkdirSync(batches, { recursive: true });
    const names = [...TRAIN_FILES, 'test_batch.bin'];
    let train = 0;
    let test = 0;
    let wellFormed = true; // every file there, whole records, labels 0-9
    files.forEach((f, i) => {
      const file = join(batches, names[i]);
      if (f.kind === 'folder') mkdirSync(file);
      let bytes: Uint8Array | undefined;
      if (f.kind === 'bytes') bytes = f.bytes;
      if (f.kind === 'records') {
        const b = Buffer.alloc(f.labels.length * RECORD_BYTES, 7);
        f.labels.forEach((label, k) => (b[k * RECORD_BYTES] = label));
        bytes = b;
      }
      if (bytes === undefined) return void (wellFormed = false);
      writeFileSync(file, bytes);
      const records = bytes.length / RECORD_BYTES;
      if (records === 0 || !Number.isInteger(records)) return void (wellFormed = false);
      for (let k = 0; k < records; k++) if (bytes[k * RECORD_BYTES] > 9) wellFormed = false;
      if (i < 5) train += records;
      else test += records;
    });
    const r = await resolvesOrRefuses(() => loadDataset({ data: dir, cacheDir: join(root, 'cache') }), ['bad_dataset']);
    assert.equal(r instanceof Error, !wellFormed, r instanceof Error ? r.message : 'a damaged folder loaded');
    if (!(r instanceof Error)) {
      assert.equal(r.train.count, train);
      assert.equal(r.test.count, test);
      assert.equal(r.train.images.length, train * IMAGE_BYTES);
      assert.ok(r.train.labels.every((l) => l <= 9));
    }
    rmSync(dir, { recursive: true, force: true });
  }), fuzzOptions(150));
});
