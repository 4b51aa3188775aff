// The network's forward pass for predictions: class probabilities (softmax of the logits, as PyTorch's
// F.softmax(net(x), dim=1)), and for one image the activation maps a person can look at. It is the reference
// net's forward pass (sidecar/nn/net.ts), whose sums run in PyTorch's order, so probabilities match the tutorial's
// Net loaded with the same weights; it never touches a run's buffers (it reads a copy of the parameters).
import { ReferenceNet } from '../nn/net';
import { NUM_CLASSES } from '../nn/spec';

/** conv2's output after ReLU, 16 maps of 10x10, what the activation view draws. */
export const CONV2_MAPS = 16;
export const CONV2_MAP_SIZE = 10;

/** Images forwarded at once: the net's buffers are sized for this many, whatever the caller's count. */
const SLICE = 64;

export interface Activations {
  probabilities: Float32Array; // 10
  conv2: Float32Array; // 16 x 10 x 10, after ReLU
}

/** Forward passes over uint8 CHW images, SLICE at a time, through one reference net whose buffers are made once. */
export class Predictor {
  private readonly net = new ReferenceNet(SLICE);

  /** `params` is the caller's copy (PARAMETER_COUNT floats, state_dict order); it must not change while in use. */
  constructor(private readonly params: Float32Array) {}

  /**
   * Softmax probabilities of images[first .. first+count) (uint8, 3,072 bytes each) into out (count x 10,
   * from outOffset). count may exceed SLICE.
   */
  probabilities(images: Uint8Array, first: number, count: number, out: Float32Array, outOffset = 0): void {
    for (let done = 0; done < count; done += SLICE) {
      const n = Math.min(SLICE, count - done);
      const { logits } = this.net.forwardRange(this.params, images, first + done, n);
      softmax(logits, n, out, outOffset + done * NUM_CLASSES);
    }
  }

  /** One image's probabilities and conv2 activation maps. */
  activations(image: Uint8Array): Activations {
    const { logits, conv2 } = this.net.forwardRange(this.params, image, 0, 1);
    const probabilities = new Float32Array(NUM_CLASSES);
    softmax(logits, 1, probabilities, 0);
    return { probabilities, conv2: Float32Array.from(conv2) };
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
