// A user's own image made 32x32 against PIL, a peer we did not write: random sizes and pixels (fast-check), written
// as PNG and as lossless WebP, resized here and by PIL as torchvision's Resize((32, 32)) does (convert('RGB'), then
// bilinear). And every kind of bad file gets a sentence that names it and says what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { isUserError } from '../../sidecar/errors';
import { IMAGE_BYTES } from '../../sidecar/nn/spec';
import { MAX_USER_IMAGE_BYTES, readUserImage } from '../../sidecar/predict/image';
import { tempDir } from '../commands/helpers';
import { sampleImages } from '../support/sample';
import { PYTHON } from '../support/system';
import { fuzzOptions } from '../support/fuzz';

const PIL_RESIZE = `
import json, sys, numpy as np
from PIL import Image
files = json.load(open(sys.argv[1]))
for f in files:
    if f.endswith('.png'):
        Image.open(f).save(f[:-4] + '.webp', lossless=True, exact=True)
out = [np.asarray(Image.open(f).convert('RGB').resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1).tobytes() for f in files]
out += [np.asarray(Image.open(f[:-4] + '.webp').convert('RGB').resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1).tobytes() for f in files]
open(sys.argv[2], 'wb').write(b''.join(out))
`;

const imageArb = fc.record({
  width: fc.integer({ min: 1, max: 200 }),
  height: fc.integer({ min: 1, max: 200 }),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  alpha: fc.boolean(),
  noise: fc.integer({ min: 0, max: 255 }),
});

// A gradient with noise (pure noise would make every filter look alike), optionally with random alpha.
function makePng(file: string, { width, height, seed, alpha, noise }: { width: number; height: number; seed: number; alpha: boolean; noise: number }): void {
  const png = new PNG({ width, height });
  let s = seed || 1;
  const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      png.data[i] = Math.min(255, Math.floor((x / width) * 200 + rand() * noise * 0.2));
      png.data[i + 1] = Math.min(255, Math.floor((y / height) * 200 + rand() * noise * 0.2));
      png.data[i + 2] = Math.floor(rand() * noise);
      png.data[i + 3] = alpha ? Math.floor(rand() * 256) : 255;
    }
  }
  writeFileSync(file, PNG.sync.write(png));
}

test('a PNG or WebP of any size becomes 32x32 within one level of PIL\'s convert(RGB) + bilinear resize (torchvision\'s Resize((32, 32)))', async () => {
  const dir = tempDir('adam-resize-');
  const cases = fc.sample(imageArb, { numRuns: 24, seed: fuzzOptions().seed });
  const files = cases.map((c, i) => {
    const f = join(dir, `${i}.png`);
    makePng(f, c);
    return f;
  });
  writeFileSync(join(dir, 'files.json'), JSON.stringify(files));
  const py = spawnSync(PYTHON, ['-c', PIL_RESIZE, join(dir, 'files.json'), join(dir, 'pil.u8')], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const pil = readFileSync(join(dir, 'pil.u8'));
  const all = [...files, ...files.map((f) => f.replace(/\.png$/, '.webp'))];
  for (let i = 0; i < all.length; i++) {
    const ours = await readUserImage(all[i]);
    const c = cases[i % cases.length];
    assert.equal(ours.resized, c.width !== 32 || c.height !== 32);
    let worst = 0;
    for (let k = 0; k < IMAGE_BYTES; k++) worst = Math.max(worst, Math.abs(ours.pixels[k] - pil[i * IMAGE_BYTES + k]));
    assert.ok(worst <= 1, `${all[i]} (${JSON.stringify(c)}): a pixel differs from PIL by ${worst}`);
  }
});

test('a 32x32 CIFAR-10 JPEG is decoded exactly as the training set is, not resized', async () => {
  const file = join(sampleImages(), 'test', 'cat', '0000.jpg');
  const image = await readUserImage(file);
  assert.equal(image.resized, false);
  assert.equal(image.format, 'jpeg');
  assert.deepEqual([image.width, image.height], [32, 32]);
});

async function refusal(file: string): Promise<string> {
  try {
    await readUserImage(file);
  } catch (e) {
    assert.ok(isUserError(e), String(e));
    assert.equal(e.code, 'bad_image');
    return e.message;
  }
  assert.fail(`${file} was accepted`);
}

test('a file that is not an image is refused, naming the file and the formats', async () => {
  const dir = tempDir('adam-badimage-');
  writeFileSync(join(dir, 'notes.png'), 'hello, not a picture\n');
  assert.match(await refusal(join(dir, 'notes.png')), /notes\.png is not a PNG, JPEG or WebP image/);
});

test('a damaged image is refused as not valid', async () => {
  const dir = tempDir('adam-badimage-');
  const bytes = readFileSync(join(sampleImages(), 'test', 'cat', '0000.jpg'));
  const big = join(dir, 'whole.png');
  makePng(big, { width: 40, height: 30, seed: 3, alpha: false, noise: 100 });
  writeFileSync(join(dir, 'cut.png'), readFileSync(big).subarray(0, 60));
  writeFileSync(join(dir, 'cut.jpg'), bytes.subarray(0, bytes.length >> 1));
  assert.match(await refusal(join(dir, 'cut.png')), /cut\.png is not a valid PNG image/);
  assert.match(await refusal(join(dir, 'cut.jpg')), /cut\.jpg is not a valid JPEG image/);
});

test('a huge file is refused before it is read, and so is an image whose header declares too many pixels', async () => {
  const dir = tempDir('adam-badimage-');
  const huge = join(dir, 'huge.jpg');
  const fd = openSync(huge, 'w');
  ftruncateSync(fd, MAX_USER_IMAGE_BYTES + 1);
  closeSync(fd);
  assert.match(await refusal(huge), /huge\.jpg is 33,554,433 bytes, more than an image \(PNG, JPEG or WebP\) can be/);
  const bomb = Buffer.from(PNG.sync.write(new PNG({ width: 4, height: 4 })));
  bomb.writeUInt32BE(100_000, 16);
  bomb.writeUInt32BE(100_000, 20);
  writeFileSync(join(dir, 'bomb.png'), bomb);
  assert.match(await refusal(join(dir, 'bomb.png')), /bomb\.png is 100000x100000 pixels, more than 40 megapixels/);
});

test('a folder or a missing file is named as such', async () => {
  const dir = tempDir('adam-badimage-');
  mkdirSync(join(dir, 'pictures.jpg'));
  assert.match(await refusal(join(dir, 'pictures.jpg')), /pictures\.jpg is a folder, not an image/);
  assert.match(await refusal(join(dir, 'gone.webp')), /gone\.webp does not exist/);
});
