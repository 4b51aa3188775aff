// The network's forward pass for predictions: class probabilities (softmax of the logits, as PyTorch's
// F.softmax(net(x), dim=1)), and for one image the activation maps a person can look at. Probabilities come from
// the WebAssembly kernels that train and evaluate the run (check-reference holds them to PyTorch): the gallery
// classifies CIFAR-10's 10,000 test images in 0.4 s with them, where the reference layers took 16.5 s of the
// sidecar's main thread, which the run's chunks then waited behind. The activation maps come from the reference net
// (sidecar/nn/net.ts), as the kernels keep no conv2 output. The two agree on probabilities to float32 rounding (6e-9
// on 1,000 images at initialisation; test/predict/forward.test.ts). Neither touches a run's buffers (a Predictor
// reads a copy of the parameters).
import { compileKernels, instantiateKernels, relaxedSimdSupported, type KernelExports } from '../kernels/loader';
import { ReferenceNet } from '../nn/net';
import { IMAGE_BYTES, NUM_CLASSES, PARAMETER_COUNT } from '../nn/spec';
import { SharedArena } from '../parallel/arena';

/** conv2's output after ReLU, 16 maps of 10x10, what the activation view draws. */
export const CONV2_MAPS = 16;
export const CONV2_MAP_SIZE = 10;

/** Images forwarded at once: the kernels' buffers are sized for this many, whatever the caller's count. */
const SLICE = 200;

export interface Activations {
  probabilities: Float32Array; // 10
  conv2: Float32Array; // 16 x 10 x 10, after ReLU
}

/**
 * The kernels on a memory of their own, made at the first prediction and shared by every Predictor. Each call
 * copies its parameters and images in and computes synchronously, so no two calls see each other's. An image's
 * logits do not depend on the others in its slice.
 */
interface KernelContext {
  k: KernelExports;
  params: { offset: number; view: Float32Array };
  images: { offset: number; view: Uint8Array };
  indices: number;
  logits: { offset: number; view: Float32Array };
  scratch: number;
}
let context: KernelContext | undefined;

function kernels(): KernelContext {
  if (context) return context;
  const arena = new SharedArena();
  const k = instantiateKernels(compileKernels(relaxedSimdSupported()), arena.memory);
  const params = arena.allocF32(PARAMETER_COUNT);
  const images = arena.allocU8(SLICE * IMAGE_BYTES);
  const indices = arena.alloc(SLICE * 4);
  arena.i32(indices, SLICE).set(Int32Array.from({ length: SLICE }, (_, i) => i));
  const logits = arena.allocF32(SLICE * NUM_CLASSES);
  const scratch = arena.alloc(k.scratchBytes(SLICE));
  context = { k, params, images, indices, logits, scratch };
  return context;
}

/** Forward passes over uint8 CHW images, SLICE at a time. */
export class Predictor {
  private net: ReferenceNet | undefined;

  /** `params` is the caller's copy (PARAMETER_COUNT floats, state_dict order); it must not change while in use. */
  constructor(private readonly params: Float32Array) {}

  /**
   * Softmax probabilities of images[first .. first+count) (uint8, 3,072 bytes each) into out (count x 10,
   * from outOffset). count may exceed SLICE.
   */
  probabilities(images: Uint8Array, first: number, count: number, out: Float32Array, outOffset = 0): void {
    const c = kernels();
    c.params.view.set(this.params);
    for (let done = 0; done < count; done += SLICE) {
      const n = Math.min(SLICE, count - done);
      c.images.view.set(images.subarray((first + done) * IMAGE_BYTES, (first + done + n) * IMAGE_BYTES));
      c.k.logitsShard(c.params.offset, c.images.offset, c.indices, n, c.scratch, c.logits.offset);
      softmax(c.logits.view, n, out, outOffset + done * NUM_CLASSES);
    }
  }

  /** One image's probabilities (as probabilities() gives them) and conv2 activation maps. */
  activations(image: Uint8Array): Activations {
    const probabilities = new Float32Array(NUM_CLASSES);
    this.probabilities(image, 0, 1, probabilities);
    this.net ??= new ReferenceNet(1);
    const { conv2 } = this.net.forwardRange(this.params, image, 0, 1);
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
