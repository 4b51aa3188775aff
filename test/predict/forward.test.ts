// Predictions' probabilities come from the WebAssembly kernels and the activation maps from the reference layers
// (sidecar/predict/forward.ts). On weights and images drawn at random (fast-check): the kernels' probabilities are
// the softmax of logits within check-reference's tolerance of the reference layers' logits (1e-6 + 1e-4 |z|, what
// both engines are held to against PyTorch), an image's are the same bits alone or among others, and one
// image's activations carry exactly the probabilities the gallery gives it. PyTorch itself is the peer in
// predict.pytorch.test.ts; here the reference layers stand for it, as check-reference holds both engines to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initParameters } from '../../sidecar/nn/init';
import { ReferenceNet } from '../../sidecar/nn/net';
import { IMAGE_BYTES, NUM_CLASSES, PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { Predictor } from '../../sidecar/predict/forward';
import { Rng } from '../../sidecar/rng';

/** The reference layers' logits of the images. */
function referenceLogits(params: Float32Array, images: Uint8Array, count: number): Float32Array {
  return Float32Array.from(new ReferenceNet(count).forwardRange(params, images, 0, count).logits);
}

function draw(seed: number, count: number, weightScale: number): { params: Float32Array; images: Uint8Array } {
  const params = new Float32Array(PARAMETER_COUNT);
  initParameters(params, seed);
  for (let i = 0; i < params.length; i++) params[i] *= weightScale; // sharper (or flatter) softmax than at init
  const rng = new Rng(seed + 1);
  const images = new Uint8Array(count * IMAGE_BYTES);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextInt(256);
  return { params, images };
}

test('the kernels\' probabilities are the softmax of the reference layers\' logits within check-reference\'s tolerance, and an image\'s bits do not depend on its slice', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 450 }), fc.double({ min: 0.5, max: 4, noNaN: true }), (seed, count, scale) => {
    const { params, images } = draw(seed, count, scale);
    const got = new Float32Array(count * NUM_CLASSES);
    new Predictor(params).probabilities(images, 0, count, got);
    const z = referenceLogits(params, images, count);
    for (let n = 0; n < count; n++) {
      const p = got.subarray(n * NUM_CLASSES, (n + 1) * NUM_CLASSES);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) <= 1e-6, `seed ${seed}, image ${n}: probabilities sum to ${p.reduce((a, b) => a + b, 0)}`);
      // Softmax keeps the logits' differences: log(p_k / p_top) = z_k - z_top, each z within 1e-6 + 1e-4 |z|. A
      // probability below float32's normal range (2^-126, few bits left) is only held to being that small there:
      // p_k = exp(z_k - z_top) / S with S, the sum over classes, between 1 and 10.
      const top = p.indexOf(Math.max(...p));
      for (let k = 0; k < NUM_CLASSES; k++) {
        const zk = z[n * NUM_CLASSES + k];
        const zt = z[n * NUM_CLASSES + top];
        if (p[k] < 2 ** -126) {
          assert.ok(zk - zt < Math.log(2 ** -126) + Math.log(NUM_CLASSES) + 2e-6 + 1e-4 * (Math.abs(zk) + Math.abs(zt)), `seed ${seed}, image ${n}, class ${k}: p ${p[k]} but z_k - z_top ${zk - zt}`);
          continue;
        }
        const allowed = 2e-6 + 1e-4 * (Math.abs(zk) + Math.abs(zt));
        const gap = Math.log(p[k] / p[top]);
        assert.ok(Math.abs(gap - (zk - zt)) <= allowed, `seed ${seed}, image ${n}, class ${k}: log(p_k/p_top) ${gap} against z_k - z_top ${zk - zt} (allowed ${allowed})`);
      }
    }
    // The same images from an offset, a few at a time: the same bits (the gallery pages; classify takes one).
    const from = Math.floor(count / 3);
    const part = new Float32Array((count - from) * NUM_CLASSES);
    new Predictor(params).probabilities(images, from, count - from, part);
    assert.deepEqual(part, got.subarray(from * NUM_CLASSES));
  }), { numRuns: 12, seed: Number(process.env.PROPERTY_SEED ?? 20261202) });
});

test('one image\'s activations carry the probabilities the gallery gives it, and conv2\'s maps from the reference layers', () => {
  const { params, images } = draw(7, 5, 2);
  const predictor = new Predictor(params);
  const all = new Float32Array(5 * NUM_CLASSES);
  predictor.probabilities(images, 0, 5, all);
  const one = predictor.activations(images.slice(3 * IMAGE_BYTES, 4 * IMAGE_BYTES));
  assert.deepEqual(one.probabilities, all.subarray(3 * NUM_CLASSES, 4 * NUM_CLASSES));
  const { conv2 } = new ReferenceNet(5).forwardRange(params, images, 3, 1);
  assert.deepEqual(one.conv2, Float32Array.from(conv2));
  assert.ok(one.conv2.some((v) => v > 0) && one.conv2.every((v) => v >= 0), 'maps after ReLU');
});

test('predictors with other weights, used in turn, never see each other\'s parameters in the kernels they share', () => {
  const a = draw(11, 3, 1);
  const b = draw(12, 3, 1);
  const pa = new Predictor(a.params);
  const pb = new Predictor(b.params);
  const first = new Float32Array(3 * NUM_CLASSES);
  pa.probabilities(a.images, 0, 3, first);
  const other = new Float32Array(3 * NUM_CLASSES);
  pb.probabilities(a.images, 0, 3, other);
  const again = new Float32Array(3 * NUM_CLASSES);
  pa.probabilities(a.images, 0, 3, again);
  assert.deepEqual(again, first);
  assert.notDeepEqual(other, first);
});
