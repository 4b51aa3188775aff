// `adam-trainer predict` against PyTorch, a peer we did not write: a run trained on the shipped sample, exported with
// `adam-trainer export`, loaded into the tutorial's Net by real PyTorch (PYTHON), classifies the sample's 1,000 test
// images. On the very same pixels (adam-trainer's decoding) every probability agrees within 1e-3; with PIL decoding and
// resizing the images itself (the tutorial's way), the top-1 class agrees on at least 99% of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLASS_NAMES, IMAGE_BYTES } from '../../sidecar/nn/spec';
import { readUserImage } from '../../sidecar/predict/image';
import { run, runText, tempDir } from '../commands/helpers';
import { sampleImages } from '../support/sample';
import { PYTHON } from '../support/system';

interface Prediction {
  type: string;
  file: string;
  top: Array<{ class: string; probability: number }>;
}

test('predict agrees with PyTorch on 1,000 CIFAR-10 test images: probabilities within 1e-3 on the same pixels, top-1 on >= 99% with PIL decoding', async () => {
  const dir = tempDir('adam-predict-torch-');
  const trained = await run(['train', '--data', 'sample', '--max-steps', '1500', '--workers', '1', '--checkpoint-dir', dir, '--runs-dir', join(dir, 'runs'), '--cache-dir', join(dir, 'cache'), '--json']);
  assert.equal(trained.code, 0, trained.stderr);
  const checkpoint = join(dir, 'latest.ckpt');
  const exported = await runText(['export', checkpoint, join(dir, 'w.safetensors')]);
  assert.equal(exported.code, 0, exported.stderr);
  const testDir = join(sampleImages(), 'test');
  const predicted = await run(['predict', checkpoint, testDir, '--json']);
  assert.equal(predicted.code, 0, predicted.stderr);
  const predictions = predicted.lines as unknown as Prediction[];
  assert.equal(predictions.length, 1000);
  for (const p of predictions) {
    assert.equal(p.type, 'prediction');
    assert.equal(p.top.length, 3);
    assert.ok(p.top[0].probability >= p.top[1].probability && p.top[1].probability >= p.top[2].probability);
  }

  const files = predictions.map((p) => p.file);
  const pixels = new Uint8Array(files.length * IMAGE_BYTES);
  for (let i = 0; i < files.length; i++) pixels.set((await readUserImage(files[i])).pixels, i * IMAGE_BYTES);
  writeFileSync(join(dir, 'files.json'), JSON.stringify(files));
  writeFileSync(join(dir, 'pixels.u8'), pixels);
  const py = spawnSync(PYTHON, [join(__dirname, 'torch_predict.py'), join(dir, 'w.safetensors'), join(dir, 'files.json'), join(dir, 'pixels.u8'), join(dir, 'torch.json')], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const torch = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8')) as { pil: number[][]; same: number[][] };

  let maxDiff = 0;
  let sameTop1 = 0;
  let pilTop1 = 0;
  const argmax = (p: number[]) => p.indexOf(Math.max(...p));
  predictions.forEach((p, i) => {
    for (const g of p.top) maxDiff = Math.max(maxDiff, Math.abs(g.probability - torch.same[i][CLASS_NAMES.indexOf(g.class as (typeof CLASS_NAMES)[number])]));
    if (CLASS_NAMES[argmax(torch.same[i])] === p.top[0].class) sameTop1++;
    if (CLASS_NAMES[argmax(torch.pil[i])] === p.top[0].class) pilTop1++;
  });
  process.stdout.write(`# predict vs PyTorch on ${files.length} test images: max |probability difference| ${maxDiff.toExponential(2)} on the same pixels, top-1 agreement ${sameTop1}/${files.length} on the same pixels, ${pilTop1}/${files.length} with PIL's decoding\n`);
  assert.ok(maxDiff <= 1e-3, `probabilities differ by ${maxDiff} on identical pixels`);
  assert.ok(sameTop1 >= 0.99 * files.length, `top-1 agrees on ${sameTop1} of ${files.length} identical images`);
  assert.ok(pilTop1 >= 0.99 * files.length, `top-1 agrees on ${pilTop1} of ${files.length} images decoded by PIL`);
});
