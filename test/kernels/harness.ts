// Shared helpers for the kernel tests: the PyTorch fixture, a shared memory with a bump allocator and
// one or more kernel instances on it.
import { Rng } from '../../sidecar/rng';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PARAMETERS, PARAMETER_COUNT } from '../../sidecar/nn/spec';
import { compileKernels, heapBase, instantiateKernels, relaxedSimdSupported, type KernelExports } from '../../sidecar/kernels/loader';

export interface Fixture {
  adam: { lr: number; beta1: number; beta2: number; eps: number };
  batch_size: number;
  init_params: Record<string, { shape: number[]; data: number[] }>;
  first_batch: { images_u8: number[]; labels: number[]; logits: number[]; loss: number; grads: Record<string, number[] | { data: number[] }> };
  training: { steps: number; images_u8: number[]; labels: number[]; losses: number[]; final_params: Record<string, number[] | { data: number[] }> };
}

let fixture: Fixture | undefined;
export function loadFixture(): Fixture {
  fixture ??= JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'cnn-adam-pytorch.json'), 'utf8')) as Fixture;
  return fixture;
}

/** Named tensors ({name: data} or {name: {data}}) -> one flat Float64Array in state_dict order. */
export function flatten(named: Record<string, number[] | { data: number[] }>): Float64Array {
  const out = new Float64Array(PARAMETER_COUNT);
  for (const p of PARAMETERS) {
    const t = named[p.name];
    const data = Array.isArray(t) ? t : t.data;
    if (data.length !== p.size) throw new Error(`${p.name}: ${data.length} values, expected ${p.size}`);
    out.set(data, p.offset);
  }
  return out;
}

export const BUILDS: Array<{ name: string; relaxed: boolean }> = [
  { name: 'simd', relaxed: false },
  { name: 'relaxed', relaxed: true },
];

export class Harness {
  readonly memory: WebAssembly.Memory;
  readonly k: KernelExports[];
  private top: number;
  constructor(relaxed: boolean, instances = 1, pages = 256) {
    if (relaxed && !relaxedSimdSupported()) throw new Error('relaxed SIMD unsupported');
    const module = compileKernels(relaxed);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: 16384, shared: true });
    this.k = [];
    for (let i = 0; i < instances; i++) this.k.push(instantiateKernels(module, this.memory));
    this.top = heapBase(this.k[0]);
  }
  alloc(bytes: number, align = 64): number {
    const p = Math.ceil(this.top / align) * align;
    this.top = p + bytes;
    if (this.top > this.memory.buffer.byteLength) this.memory.grow(Math.ceil((this.top - this.memory.buffer.byteLength) / 65536));
    return p;
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
}

/** Max over i of |a-b| / (abs + rel*|b|); <= 1 passes. Returns [ratio, index]. */
export function worst(a: ArrayLike<number>, b: ArrayLike<number>, abs: number, rel: number): [number, number] {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let w = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (abs + rel * Math.abs(b[i]));
    if (!(r <= w)) {
      w = r;
      at = i;
      if (Number.isNaN(r)) return [Infinity, i];
    }
  }
  return [w, at];
}

/** Deterministic pseudo-random numbers in [0, 1): the product's own generator (sidecar/rng.ts). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.nextFloat();
}
