// All numbers of a run live in one shared WebAssembly.Memory (a SharedArrayBuffer underneath): the uint8
// dataset, the parameters, each worker's gradients, the optimizer's state and each worker's scratch space.
// Every worker instantiates the kernels on this same memory, so pointers are plain byte offsets. The arena
// hands out aligned regions with a bump pointer and grows the memory as needed; it never frees (a run's
// buffers live as long as the run).

const PAGE = 65536;
/** Where our regions start: above the kernels' own static data (checked against __heap_base at start). */
export const ARENA_BASE = 1 << 20;

export class SharedArena {
  readonly memory: WebAssembly.Memory;
  private top = ARENA_BASE;

  constructor(initialBytes = 4 << 20) {
    const pages = Math.ceil(Math.max(initialBytes, ARENA_BASE + PAGE) / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: 16384, shared: true });
  }

  /** Reserves `bytes` at a 64-byte aligned offset (a cache line; also what SIMD loads like). */
  alloc(bytes: number, align = 64): number {
    const offset = Math.ceil(this.top / align) * align;
    const end = offset + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return offset;
  }

  get used(): number {
    return this.top;
  }

  // Views are made over the buffer as it is now: a shared memory's buffer keeps its old length after a
  // grow, but views made before stay valid for the regions they cover.
  f32(offset: number, length: number): Float32Array { return new Float32Array(this.memory.buffer, offset, length); }
  f64(offset: number, length: number): Float64Array { return new Float64Array(this.memory.buffer, offset, length); }
  i32(offset: number, length: number): Int32Array { return new Int32Array(this.memory.buffer, offset, length); }
  u8(offset: number, length: number): Uint8Array { return new Uint8Array(this.memory.buffer, offset, length); }

  allocF32(length: number): { offset: number; view: Float32Array } { const o = this.alloc(length * 4); return { offset: o, view: this.f32(o, length) }; }
  allocU8(length: number): { offset: number; view: Uint8Array } { const o = this.alloc(length); return { offset: o, view: this.u8(o, length) }; }
}
