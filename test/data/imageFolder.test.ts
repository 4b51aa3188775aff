import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import jpeg from 'jpeg-js';
import { loadDataset } from '../../sidecar/data/index';
import { CLASS_NAMES, IMAGE_BYTES } from '../../sidecar/nn/spec';
import { pngFile, rejectsWith, tempDir, writeImageFolder } from './helpers';

const cacheFiles = (cacheDir: string) => readdirSync(cacheDir).filter((f) => f.startsWith('decoded-')).sort();

test('an image folder loads classes in label order and files in name order', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(join(dir, 'imgs'), 2, 1);
  const d = await loadDataset({ data: join(dir, 'imgs'), cacheDir: join(dir, 'cache') });
  assert.equal(d.train.count, 20);
  assert.equal(d.test.count, 10);
  assert.deepEqual([...d.train.labels], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
  assert.deepEqual([...d.test.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(d.source, `image folder ${join(dir, 'imgs')}`);
});

// The reference is libjpeg-turbo's decoding of the same 20 files (what PIL, and so torchvision, use), made
// by test/fixtures/data/libjpeg-decode.c.
test('JPEG pixels match libjpeg, the decoder behind PIL, within a level or so', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(join(dir, 'imgs'), 2, 1);
  const d = await loadDataset({ data: join(dir, 'imgs'), cacheDir: join(dir, 'cache') });
  const expected = readFileSync(join(__dirname, '..', 'fixtures', 'data', 'libjpeg-expected.bin'));
  assert.equal(expected.length, d.train.images.length);
  for (let k = 0; k < d.train.count; k++) {
    let sum = 0;
    let max = 0;
    for (let i = k * IMAGE_BYTES; i < (k + 1) * IMAGE_BYTES; i++) {
      const diff = Math.abs(d.train.images[i] - expected[i]);
      sum += diff;
      max = Math.max(max, diff);
    }
    assert.ok(sum / IMAGE_BYTES < 0.5, `image ${k}: mean abs diff ${sum / IMAGE_BYTES}`);
    assert.ok(max <= 4, `image ${k}: max abs diff ${max}`);
  }
});

test('every common chroma subsampling (4:4:4, 4:4:0, 4:2:2, 4:2:0) decodes like libjpeg', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  const fixtures = join(__dirname, '..', 'fixtures', 'data');
  const names = ['sampling-1x1.jpg', 'sampling-1x2.jpg', 'sampling-2x1.jpg', 'sampling-2x2.jpg']; // name order
  for (const name of names) copyFileSync(join(fixtures, name), join(dir, 'train', 'airplane', name));
  const d = await loadDataset({ data: dir, cacheDir: join(dir, 'cache') });
  const expected = readFileSync(join(fixtures, 'sampling-expected.bin'));
  names.forEach((name, k) => {
    const got = d.train.images.subarray((k + 1) * IMAGE_BYTES, (k + 2) * IMAGE_BYTES); // after 0000.jpg
    const want = expected.subarray(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES);
    const diffs = got.map((v, i) => Math.abs(v - want[i]));
    assert.ok(diffs.reduce((a, b) => a + b, 0) / IMAGE_BYTES < 0.5, `${name}: mean abs diff too large`);
    assert.ok(Math.max(...diffs) <= 4, `${name}: max abs diff ${Math.max(...diffs)}`);
  });
});

test('PNGs load exactly, in C,H,W order: RGB as is, grey copied to R, G and B, alpha dropped', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  const rgb = (i: number) => [i & 255, (i * 3) & 255, 255 - (i & 255), 255];
  writeFileSync(join(dir, 'train', 'airplane', '0001.png'), pngFile(32, 32, 2, rgb));
  writeFileSync(join(dir, 'train', 'airplane', '0002.png'), pngFile(32, 32, 0, (i) => [i % 251, i % 251, i % 251, 255]));
  writeFileSync(join(dir, 'train', 'airplane', '0003.png'), pngFile(32, 32, 6, (i) => [...rgb(i).slice(0, 3), i % 256]));
  const d = await loadDataset({ data: dir, cacheDir: join(dir, 'cache') });
  const image = (k: number) => d.train.images.subarray(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES);
  assert.deepEqual([...d.train.labels.subarray(0, 4)], [0, 0, 0, 0]);
  for (const k of [1, 3]) {
    for (let i = 0; i < 1024; i++) {
      assert.deepEqual([image(k)[i], image(k)[1024 + i], image(k)[2048 + i]], rgb(i).slice(0, 3));
    }
  }
  for (let i = 0; i < 1024; i++) assert.deepEqual([image(2)[i], image(2)[1024 + i], image(2)[2048 + i]], [i % 251, i % 251, i % 251]);
});

test('the second load of a folder comes from the decoded cache, with the same bytes', async (t) => {
  const dir = tempDir(t);
  const cacheDir = join(dir, 'cache');
  writeImageFolder(join(dir, 'imgs'), 2, 1);
  const first = await loadDataset({ data: join(dir, 'imgs'), cacheDir });
  assert.equal(cacheFiles(cacheDir).length, 2);
  const progress: string[] = [];
  const second = await loadDataset({ data: join(dir, 'imgs'), cacheDir, onProgress: (p) => progress.push(`${p.phase} ${p.done}/${p.total}`) });
  assert.equal(second.source, `image folder ${join(dir, 'imgs')} (cached)`);
  assert.deepEqual(second.train.images, first.train.images);
  assert.deepEqual(second.train.labels, first.train.labels);
  assert.deepEqual(second.test.images, first.test.images);
  assert.deepEqual(progress, ['decode 20/20', 'decode 10/10']);
});

test('a changed folder is decoded again and its stale cache removed', async (t) => {
  const dir = tempDir(t);
  const cacheDir = join(dir, 'cache');
  writeImageFolder(dir, 2, 1);
  await loadDataset({ data: dir, cacheDir });
  const before = cacheFiles(cacheDir);
  copyFileSync(join(dir, 'train', 'cat', '0000.jpg'), join(dir, 'train', 'cat', '0002.jpg'));
  const d = await loadDataset({ data: dir, cacheDir });
  assert.equal(d.train.count, 21);
  assert.equal(d.source, `image folder ${dir}`);
  const after = cacheFiles(cacheDir);
  assert.equal(after.length, 2);
  assert.equal(after.filter((f) => before.includes(f)).length, 1, 'the test split, unchanged, keeps its cache');
  utimesSync(join(dir, 'test', 'dog', '0000.jpg'), new Date(), new Date(Date.now() - 86_400_000));
  assert.equal((await loadDataset({ data: dir, cacheDir })).source, `image folder ${dir}`, 'a new mtime counts as a change');
});

test('a corrupt cache file is not trusted: the split is decoded again and the cache rebuilt', async (t) => {
  const dir = tempDir(t);
  const cacheDir = join(dir, 'cache');
  writeImageFolder(dir, 2, 1);
  const first = await loadDataset({ data: dir, cacheDir });
  for (const f of cacheFiles(cacheDir)) {
    const bytes = readFileSync(join(cacheDir, f));
    bytes[bytes.length - 100] ^= 0xff; // one pixel: only the checksum can tell
    writeFileSync(join(cacheDir, f), bytes);
  }
  const sizes: number[] = [];
  const rebuilt = await loadDataset({ data: dir, cacheDir, allocate: (n) => (sizes.push(n), new Uint8Array(n)) });
  assert.equal(rebuilt.source, `image folder ${dir}`);
  assert.deepEqual(rebuilt.train.images, first.train.images);
  assert.deepEqual(sizes, [20 * IMAGE_BYTES, 20, 10 * IMAGE_BYTES, 10], 'still one allocation a split');
  assert.equal((await loadDataset({ data: dir, cacheDir })).source, `image folder ${dir} (cached)`);
});

test('dotfiles such as .DS_Store are ignored', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  writeFileSync(join(dir, 'train', 'cat', '.DS_Store'), 'not an image');
  assert.equal((await loadDataset({ data: dir, cacheDir: join(dir, 'cache') })).train.count, 10);
});

test('a missing split folder is named', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  rmSync(join(dir, 'test'), { recursive: true });
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', `missing test/ folder in ${dir}`);
});

test('a missing class folder is named with its class', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  rmSync(join(dir, 'train', 'cat'), { recursive: true });
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', join(dir, 'train'), "class 'cat'");
});

test('an empty class folder is named', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  rmSync(join(dir, 'test', 'ship', '0000.jpg'));
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', `${join(dir, 'test', 'ship')} is empty`);
});

test('a file that is not an image is named', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  writeFileSync(join(dir, 'train', 'dog', 'notes.txt'), 'remember to label these');
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset',
    `${join(dir, 'train', 'dog', 'notes.txt')} is not a JPEG or PNG image`);
});

test('a corrupt JPEG is named', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  const file = join(dir, 'train', 'frog', '0000.jpg');
  writeFileSync(file, readFileSync(file).subarray(0, 400));
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', `${file} is not a valid JPEG image`);
});

test('an image that is not 32x32 is named with its size', async (t) => {
  const dir = tempDir(t);
  writeImageFolder(dir, 1, 1);
  const png = join(dir, 'train', 'bird', '0001.png');
  writeFileSync(png, pngFile(16, 16, 2, () => [1, 2, 3, 255]));
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', `${png} is 16x16 pixels`, 'must be 32x32');
  rmSync(png);
  const jpg = join(dir, 'test', 'horse', '0001.jpg');
  writeFileSync(jpg, jpeg.encode({ width: 40, height: 30, data: Buffer.alloc(40 * 30 * 4, 128) }, 90).data);
  await rejectsWith(loadDataset({ data: dir, cacheDir: join(dir, 'cache') }), 'bad_dataset', `${jpg} is 40x30 pixels`);
});

test("'sample' loads the shipped sample: 300 train and 100 test images a class", async (t) => {
  const dir = tempDir(t);
  const d = await loadDataset({ data: 'sample', cacheDir: dir });
  assert.equal(d.train.count, 3000);
  assert.equal(d.test.count, 1000);
  assert.equal(d.source, 'built-in sample (3,000 train / 1,000 test images)');
  for (let c = 0; c < CLASS_NAMES.length; c++) assert.equal(d.train.labels.filter((l) => l === c).length, 300);
  const extracted = readdirSync(dir).filter((n) => n.startsWith('sample-'));
  assert.equal(extracted.length, 1);
  assert.equal(readdirSync(join(dir, extracted[0], 'train', 'truck')).length, 300);
});
