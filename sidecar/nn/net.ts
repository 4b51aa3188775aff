// The seed's network built from the reference layers: conv 3->6 k5, ReLU, pool, conv 6->16 k5, ReLU, pool,
// flatten, fc 400-120-84-10 (ReLU between), softmax cross-entropy. Buffers are allocated once for the
// largest shard; a step allocates nothing. Its shard interface is the one the WebAssembly kernels export,
// so the two engines are interchangeable and tested against each other.
import { conv2dBackward, conv2dForward, type Conv2dShape } from './conv2d';
import { softmaxCrossEntropy } from './crossEntropy';
import { linearBackward, linearForward } from './linear';
import { maxPoolBackward, maxPoolForward } from './maxpool';
import { reluBackward, reluForward } from './relu';
import { IMAGE_BYTES, NUM_CLASSES, PARAMETERS, PARAMETER_COUNT } from './spec';

const CONV1: Conv2dShape = { inChannels: 3, outChannels: 6, kernel: 5, inSize: 32 };
const CONV2: Conv2dShape = { inChannels: 6, outChannels: 16, kernel: 5, inSize: 14 };

type Views = Record<string, Float32Array>;
function views(flat: Float32Array): Views {
  const v: Views = {};
  for (const p of PARAMETERS) v[p.name] = flat.subarray(p.offset, p.offset + p.size);
  return v;
}

/** Normalises uint8 pixels as the seed does: x/127.5 - 1. */
export function normalise(images: Uint8Array, index: number, out: Float32Array, outOffset: number): void {
  const base = index * IMAGE_BYTES;
  for (let i = 0; i < IMAGE_BYTES; i++) out[outOffset + i] = images[base + i] / 127.5 - 1;
}

export class ReferenceNet {
  private readonly x: Float32Array;
  private readonly a1: Float32Array; // conv1 + ReLU, 6x28x28
  private readonly p1: Float32Array; // pool, 6x14x14
  private readonly i1: Int32Array;
  private readonly a2: Float32Array; // conv2 + ReLU, 16x10x10
  private readonly p2: Float32Array; // pool, 16x5x5 = 400
  private readonly i2: Int32Array;
  private readonly h1: Float32Array; // 120
  private readonly h2: Float32Array; // 84
  private readonly logits: Float32Array; // 10
  private readonly labels: Uint8Array;
  private gradBuffers: Record<string, Float32Array> | null = null;
  private pv: Views | null = null;
  private pvSource: Float32Array | null = null;

  constructor(readonly maxCount: number) {
    const n = Math.max(1, maxCount);
    this.x = new Float32Array(n * IMAGE_BYTES);
    this.a1 = new Float32Array(n * 6 * 28 * 28);
    this.p1 = new Float32Array(n * 6 * 14 * 14);
    this.i1 = new Int32Array(n * 6 * 14 * 14);
    this.a2 = new Float32Array(n * 16 * 10 * 10);
    this.p2 = new Float32Array(n * 400);
    this.i2 = new Int32Array(n * 400);
    this.h1 = new Float32Array(n * 120);
    this.h2 = new Float32Array(n * 84);
    this.logits = new Float32Array(n * NUM_CLASSES);
    this.labels = new Uint8Array(n);
  }

  /** The backward pass's buffers, made at the first training shard (a net that only predicts never needs them). */
  private get g(): Record<string, Float32Array> {
    if (!this.gradBuffers) {
      const n = Math.max(1, this.maxCount);
      this.gradBuffers = {
        a1: new Float32Array(n * 6 * 28 * 28), p1: new Float32Array(n * 6 * 14 * 14), a2: new Float32Array(n * 16 * 10 * 10),
        p2: new Float32Array(n * 400), h1: new Float32Array(n * 120), h2: new Float32Array(n * 84), logits: new Float32Array(n * NUM_CLASSES),
      };
    }
    return this.gradBuffers;
  }

  private params(flat: Float32Array): Views {
    if (this.pvSource !== flat) { this.pv = views(flat); this.pvSource = flat; }
    return this.pv!;
  }

  private load(images: Uint8Array, labels: Uint8Array, indices: ArrayLike<number>, count: number): void {
    for (let n = 0; n < count; n++) {
      normalise(images, indices[n], this.x, n * IMAGE_BYTES);
      this.labels[n] = labels[indices[n]];
    }
  }

  /** Forward pass for `count` images already in this.x; leaves the logits in this.logits. */
  private forward(p: Views, count: number): void {
    conv2dForward(CONV1, count, this.x, p['conv1.weight'], p['conv1.bias'], this.a1);
    reluForward(this.a1, count * 6 * 28 * 28);
    maxPoolForward(count * 6, 28, this.a1, this.p1, this.i1);
    conv2dForward(CONV2, count, this.p1, p['conv2.weight'], p['conv2.bias'], this.a2);
    reluForward(this.a2, count * 16 * 10 * 10);
    maxPoolForward(count * 16, 10, this.a2, this.p2, this.i2);
    linearForward(count, 400, 120, this.p2, p['fc1.weight'], p['fc1.bias'], this.h1);
    reluForward(this.h1, count * 120);
    linearForward(count, 120, 84, this.h1, p['fc2.weight'], p['fc2.bias'], this.h2);
    reluForward(this.h2, count * 84);
    linearForward(count, 84, 10, this.h2, p['fc3.weight'], p['fc3.bias'], this.logits);
  }

  /**
   * Forward and backward for one shard of a batch. grads (PARAMETER_COUNT floats) is overwritten with the
   * shard's gradient of the batch-mean loss (per-sample gradients times invBatch). Returns the summed loss
   * and the number of correct predictions.
   */
  trainShard(params: Float32Array, grads: Float32Array, images: Uint8Array, labels: Uint8Array, indices: ArrayLike<number>, count: number, invBatch: number): { lossSum: number; correct: number } {
    if (count === 0) { grads.fill(0, 0, PARAMETER_COUNT); return { lossSum: 0, correct: 0 }; }
    const p = this.params(params);
    const g = this.params2(grads);
    this.load(images, labels, indices, count);
    this.forward(p, count);
    const r = softmaxCrossEntropy(count, NUM_CLASSES, this.logits, this.labels, invBatch, this.g.logits);
    linearBackward(count, 84, 10, this.h2, p['fc3.weight'], this.g.logits, g['fc3.weight'], g['fc3.bias'], this.g.h2);
    reluBackward(this.h2, this.g.h2, count * 84);
    linearBackward(count, 120, 84, this.h1, p['fc2.weight'], this.g.h2, g['fc2.weight'], g['fc2.bias'], this.g.h1);
    reluBackward(this.h1, this.g.h1, count * 120);
    linearBackward(count, 400, 120, this.p2, p['fc1.weight'], this.g.h1, g['fc1.weight'], g['fc1.bias'], this.g.p2);
    maxPoolBackward(count * 16, 10, this.g.p2, this.i2, this.g.a2);
    reluBackward(this.a2, this.g.a2, count * 16 * 10 * 10);
    conv2dBackward(CONV2, count, this.p1, p['conv2.weight'], this.g.a2, g['conv2.weight'], g['conv2.bias'], this.g.p1);
    maxPoolBackward(count * 6, 28, this.g.p1, this.i1, this.g.a1);
    reluBackward(this.a1, this.g.a1, count * 6 * 28 * 28);
    conv2dBackward(CONV1, count, this.x, p['conv1.weight'], this.g.a1, g['conv1.weight'], g['conv1.bias'], null);
    return r;
  }

  private gv: Views | null = null;
  private gvSource: Float32Array | null = null;
  private params2(flat: Float32Array): Views {
    if (this.gvSource !== flat) { this.gv = views(flat); this.gvSource = flat; }
    return this.gv!;
  }

  /** Forward only: summed loss, and each image's predicted class into predictions. */
  evalShard(params: Float32Array, images: Uint8Array, labels: Uint8Array, indices: ArrayLike<number>, count: number, predictions: Int32Array): number {
    const p = this.params(params);
    this.load(images, labels, indices, count);
    this.forward(p, count);
    const r = softmaxCrossEntropy(count, NUM_CLASSES, this.logits, this.labels, 1, null);
    for (let n = 0; n < count; n++) {
      let arg = 0;
      for (let k = 1; k < NUM_CLASSES; k++) if (this.logits[n * NUM_CLASSES + k] > this.logits[n * NUM_CLASSES + arg]) arg = k;
      predictions[n] = arg;
    }
    return r.lossSum;
  }

  /**
   * Forward only over images[first .. first+count) in order (count <= maxCount), for predictions: the logits
   * (count x 10) and conv2's maps after ReLU (count x 16 x 10 x 10), views of this net's buffers that the next call
   * overwrites.
   */
  forwardRange(params: Float32Array, images: Uint8Array, first: number, count: number): { logits: Float32Array; conv2: Float32Array } {
    if (count > this.maxCount) throw new RangeError(`forwardRange: ${count} images, this net holds ${this.maxCount}`);
    for (let n = 0; n < count; n++) normalise(images, first + n, this.x, n * IMAGE_BYTES);
    this.forward(this.params(params), count);
    return { logits: this.logits.subarray(0, count * NUM_CLASSES), conv2: this.a2.subarray(0, count * 16 * 10 * 10) };
  }

  /** Forward only, copying count x 10 logits out (tests and the reference check). */
  logitsShard(params: Float32Array, images: Uint8Array, indices: ArrayLike<number>, count: number, out: Float32Array): void {
    const p = this.params(params);
    for (let n = 0; n < count; n++) normalise(images, indices[n], this.x, n * IMAGE_BYTES);
    this.forward(p, count);
    out.set(this.logits.subarray(0, count * NUM_CLASSES));
  }
}

