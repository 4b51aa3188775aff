// The image-folder reader against folders as they can be found: a split or class folder missing or empty, a file where
// a folder belongs, a folder or a FIFO where an image belongs, dotfiles, and images that are random bytes or damaged.
// Each folder loads (every image, labelled by its class) exactly when every entry decodes, or is refused as bad_dataset.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { decodeImageInto } from '../../sidecar/data/decodeImage';
import { loadDataset } from '../../sidecar/data/index';
import { CLASS_NAMES, IMAGE_BYTES } from '../../sidecar/nn/spec';
import { fuzzOptions, resolvesOrRefuses } from '../support/fuzz';
import { pngFile } from './helpers';

const root = mkdtempSync(join(tmpdir(), 'adam-fuzz-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));
let cases = 0;

const rgba = Buffer.alloc(32 * 32 * 4, 90);
const PNG = pngFile(32, 32, 2, (i) => [i & 255, 3, 200, 255]);
const JPEG = Buffer.from(jpeg.encode({ width: 32, height: 32, data: rgba }, 80).data);

type Entry = { kind: 'bytes'; name: string; bytes: Uint8Array } | { kind: 'folder' | 'fifo'; name: string };
const image = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(PNG, JPEG) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(PNG, JPEG), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([b, at, x]) => {
    const c = Buffer.from(b);
    c[at % c.length] ^= x;
    return c;
  }) },
);
const name = fc.oneof({ weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9]{1,8}\.(png|jpg)$/) }, { weight: 1, arbitrary: fc.constantFrom('.DS_Store', '._a.jpg') });
const entry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant('bytes' as const), name, bytes: image }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('folder' as const, 'fifo' as const), name: fc.stringMatching(/^[a-z]{1,6}$/) }) },
);
const classFolder = fc.oneof({ weight: 20, arbitrary: fc.uniqueArray(entry, { minLength: 1, maxLength: 2, selector: (e) => e.name }) }, { weight: 1, arbitrary: fc.constantFrom('missing' as const, 'file' as const) });
const split = fc.oneof({ weight: 20, arbitrary: fc.array(classFolder, { minLength: 10, maxLength: 10 }) }, { weight: 1, arbitrary: fc.constantFrom('missing' as const, 'file' as const) });

test('an image folder with missing, empty, misplaced or damaged entries loads exactly when every image decodes, else is refused as bad_dataset', async () => {
  await fc.assert(fc.asyncProperty(fc.tuple(split, split), async (splits) => {
    const dir = join(root, String(cases++));
    mkdirSync(dir);
    let ok = true;
    const counts = [0, 0];
    splits.forEach((classes, s) => {
      const splitDir = join(dir, s === 0 ? 'train' : 'test');
      if (classes === 'missing') return void (ok = false);
      if (classes === 'file') return writeFileSync(splitDir, 'x'), void (ok = false);
      classes.forEach((entries, label) => {
        const classDir = join(splitDir, CLASS_NAMES[label]);
        if (entries === 'missing') return void (ok = false);
        if (entries === 'file') return mkdirSync(splitDir, { recursive: true }), writeFileSync(classDir, 'x'), void (ok = false);
        mkdirSync(classDir, { recursive: true });
        let images = 0;
        for (const e of entries) {
          const path = join(classDir, e.name);
          const hidden = e.name.startsWith('.');
          if (e.kind === 'folder') mkdirSync(path);
          else if (e.kind === 'fifo') execFileSync('mkfifo', [path]);
          else if (e.kind === 'bytes') writeFileSync(path, e.bytes);
          if (hidden) continue;
          images++;
          if (e.kind !== 'bytes') ok = false;
          else {
            try {
              decodeImageInto(e.bytes, e.name, new Uint8Array(IMAGE_BYTES), 0);
            } catch {
              ok = false;
            }
          }
        }
        if (images === 0) ok = false;
        counts[s] += images;
      });
    });
    const r = await resolvesOrRefuses(() => loadDataset({ data: dir, cacheDir: join(root, 'cache') }), ['bad_dataset']);
    assert.equal(r instanceof Error, !ok, r instanceof Error ? r.message : 'a folder with a bad entry loaded');
    if (!(r instanceof Error)) {
      assert.equal(r.train.count, counts[0]);
      assert.equal(r.test.count, counts[1]);
      assert.ok(r.train.labels.every((l) => l <= 9) && r.test.labels.every((l) => l <= 9));
    }
    rmSync(dir, { recursive: true, force: true });
  }), fuzzOptions(100));
});
