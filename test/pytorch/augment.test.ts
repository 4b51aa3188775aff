// flip-crop augmentation (issue 14, part 5): the exported train.py replays the product's flips and crops. Its own
// generator and flip_crop, run by real PyTorch's Python, give the same uint8 pixels as the product's
// (sidecar/data/augment.ts) on the first batches of a run's epochs, drawn the way a run draws them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { augmentImage, drawAugmentation } from '../../sidecar/data/augment';
import { Rng } from '../../sidecar/rng';
import { PYTHON } from '../support/system';

const SCRIPT = join(__dirname, '..', '..', 'sidecar', 'pytorch', 'train.py');
const N = 500; // images in the made-up training set
const BATCHES = 3;
const BATCH = 8;

/** Distinct pixels everywhere (a pattern that no flip or shift leaves unchanged), as a training set of N images. */
function images(): Uint8Array {
  const out = new Uint8Array(N * 3072);
  for (let i = 0; i < out.length; i++) out[i] = (i * 2654435761) >>> 24;
  return out;
}

/** What the product feeds the network: per epoch, the permutation, then the augmentation seed, then each batch's flips and crops. */
function productBatches(seed: number, epochs: number): string[] {
  const data = images();
  const rng = new Rng(seed);
  const order = new Uint32Array(N);
  const codes = new Uint8Array(N);
  const hashes: string[] = [];
  for (let e = 0; e < epochs; e++) {
    rng.permutation(order);
    drawAugmentation(rng.nextU32(), codes);
    const batch = new Uint8Array(BATCHES * BATCH * 3072);
    for (let j = 0; j < BATCHES * BATCH; j++) augmentImage(codes[j], data, order[j] * 3072, batch, j * 3072);
    hashes.push(createHash('sha256').update(batch).digest('hex'));
  }
  return hashes;
}

test('train.py replays the product\'s flips and crops pixel for pixel on the first batches of every epoch', () => {
  const code = `import hashlib, importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location('train', sys.argv[1]); t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
n, batches, seed, epochs = ${N}, ${BATCHES * BATCH}, int(sys.argv[2]), int(sys.argv[3])
i = np.arange(n * 3072, dtype=np.uint64)
data = (((i * 2654435761) & 0xFFFFFFFF) >> 24).astype(np.uint8).reshape(n, 3072)
rng, out = t.Rng(seed=seed), []
for _ in range(epochs):
    order = rng.permutation(n)
    codes = t.augment_codes(rng.next_u32(), n)
    out.append(hashlib.sha256(np.ascontiguousarray(t.flip_crop(data[order[:batches]], codes[:batches])).tobytes()).hexdigest())
print(json.dumps(out))`;
  for (const seed of [0, 12345]) {
    const r = spawnSync(PYTHON, ['-c', code, SCRIPT, String(seed), '2'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), productBatches(seed, 2), `seed ${seed}`);
  }
});

test('each code is one flip and crop: the padded border is 0 and the rest is the image shifted and mirrored', () => {
  const src = Uint8Array.from({ length: 3072 }, (_, i) => 1 + (i % 251));
  const out = new Uint8Array(3072);
  for (let code = 0; code < 162; code++) {
    augmentImage(code, src, 0, out, 0);
    const flip = code % 2 === 1, dx = Math.floor(code / 2) % 9 - 4, dy = Math.floor(code / 18) - 4;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      const sx = (flip ? 31 - x : x) + dx, sy = y + dy;
      const want = sx < 0 || sx > 31 || sy < 0 || sy > 31 ? 0 : src[c * 1024 + sy * 32 + sx];
      assert.equal(out[c * 1024 + y * 32 + x], want, `code ${code} (${c}, ${y}, ${x})`);
    }
  }
});
