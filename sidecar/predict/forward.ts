// The network's forward pass for predictions: class probabilities (softmax of the logits, as PyTorch's
// F.softmax(net(x), dim=1)), and for one image the activation maps a person can look at. It is built from the
// reference layers (sidecar/nn/), whose sums run in PyTorch's order, so probabilities match the tutorial's Net
// loaded with the same weights; it never touches a run's buffers (it reads a copy of the parameters).
import { conv2dForward, type Conv2dShape } from '../nn/conv2d';
import { linearForward } from '../nn/linear';
import { maxPoolForward } from '../nn/maxpool';
import { normalise } from '../nn/net';
import { reluForward } from '../nn/relu';
import { IMAGE_BYTES, NUM_CLASSES, PARAMETERS } from '../nn/spec';

const CONV1: Conv2dShape = { inChannels: 3, outChannels: 6, kernel: 5, inSize: 32 };
const CONV2: Conv2dShape = { inChannels: 6, outChannels: 16, kernel: 5, inSize: 14 };

/** conv2's output after ReLU, 16 maps of 10x10, what the activation view draws. */
export const CONV2_MAPS = 16;
export const CONV2_MAP_SIZE = 10;

/** Images forwarded at once: the buffers below are sized for this many, whatever the caller's count. */
const SLICE = 64;

function views(params: Float32Array): Record<string, Float32Array> {
  const v: Record<string, Float32Array> = {};
  for (const p of PARAMETERS) v[p.name] = params.subarray(p.offset, p.offset + p.size);
  return v;
}

export interface Activations {
  probabilities: Float32Array; // 10
  conv2: Float32Array; // 16 x 10 x 10, after ReLU
}

/** Forward passes over uint8 CHW images, SLICE at a time, with buffers made once. */
export class Predictor {
  private readonly p: Record<string, Float32Array>;
  private readonly x = new Float32Array(SLICE * IMAGE_BYTES);
  private readonly a1 = new Float32Array(SLICE * 6 * 28 * 28);
  private readonly p1 = new Float32Array(SLICE * 6 * 14 * 14);
  private readonly i1 = new Int32Array(SLICE * 6 * 14 * 14);
  private readonly a2 = new Float32Array(SLICE * 16 * 10 * 10);
  private readonly p2 = new Float32Array(SLICE * 400);
  private readonly i2 = new Int32Array(SLICE * 400);
  private readonly h1 = new Float32Array(SLICE * 120);
  private readonly h2 = new Float32Array(SLICE * 84);
  private readonly logits = new Float32Array(SLICE * NUM_CLASSES);

  /** `params` is the caller's copy (PARAMETER_COUNT floats, state_dict order); it must not change while in use. */
  constructor(params: Float32Array) {
    this.p = views(params);
  }

  /**
   * Softmax probabilities of images[first .. first+count) (uint8, 3,072 bytes each) into out (count x 10,
   * from outOffset). count may exceed SLICE.
   */
  probabilities(images: Uint8Array, first: number, count: number, out: Float32Array, outOffset = 0): void {
    for (let done = 0; done < count; done += SLICE) {
      const n = Math.min(SLICE, count - done);
      for (let i = 0; i < n; i++) normalise(images, first + done + i, this.x, i * IMAGE_BYTES);
      this.forward(n);
      softmax(this.logits, n, out, outOffset + done * NUM_CLASSES);
    }
  }

  /** One image's probabilities and conv2 activation maps. */
  activations(image: Uint8Array): Activations {
    normalise(image, 0, this.x, 0);
    this.forward(1);
    const probabilities = new Float32Array(NUM_CLASSES);
    softmax(this.logits, 1, probabilities, 0);
    return { probabilities, conv2: Float32Array.from(this.a2.subarray(0, CONV2_MAPS * CONV2_MAP_SIZE * CONV2_MAP_SIZE)) };
  }

  private forward(count: number): void {
    const p = this.p;
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
}

// Softmax with the maximum subtracted first (as PyTorch's kernel does), in float64 then stored as float32.
function softmax(logits: Float32Array, count: number, out: Float32Array, outOffset: number): void {
  for (let n = 0; n < count; n++) {
    const base = n * NUM_CLASSES;
    let max = -Infinity;
    for (let k = 0; k < NUM_CLASSES; k++) max = Math.max(max, logits[base + k]);
    let sum = 0;
    for (let k = 0; k < NUM_CLASSES; k++) sum += Math.exp(logits[base + k] - max);
    for (let k = 0; k < NUM_CLASSES; k++) out[outOffset + base + k] = Math.exp(logits[base + k] - max) / sum;
  }
}

export interface Guess {
  class: string;
  probability: number;
}

/** The k most probable classes of one image's probabilities (ties: the lower label first, as torch.topk on CPU). */
export function topClasses(probabilities: ArrayLike<number>, offset: number, classNames: readonly string[], k = 3): Guess[] {
  const order = Array.from({ length: NUM_CLASSES }, (_, i) => i);
  order.sort((a, b) => probabilities[offset + b] - probabilities[offset + a] || a - b);
  return order.slice(0, k).map((i) => ({ class: classNames[i], probability: probabilities[offset + i] }));
}
