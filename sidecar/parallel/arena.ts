// All numbers of a run live in one shared WebAssembly.Memory (a SharedArrayBuffer underneath): the uint8
// dataset, the parameters, each worker's gradients, the optimizer's state and each worker's scratch space.
// Every worker instantiates the kernels on this same memory, so pointers are plain byte offsets.
//
// Runs of the same data share one arena (data/pool.ts): the dataset is allocated once at the bottom and each
// run's engine allocates its own regions above it through a scope, which gives them back when the run ends, so
// a sidecar that trains run after run on one dataset reuses the same bytes instead of growing. A memory cannot
// shrink; the arena as a whole is freed when the last run of its dataset lets go of it.

const PAGE = 65536;
/** Where our regions start: above the kernels' own static data (checked against __heap_base at start). */
export const ARENA_BASE = 1 << 20;

/** What an engine allocates through: the arena itself, or a scope of it that frees everything at once. */
export interface ArenaAllocator {
  readonly memory: WebAssembly.Memory;
  alloc(bytes: number, align?: number): number;
  f32(offset: number, length: number): Float32Array;
  f64(offset: number, length: number): Float64Array;
  i32(offset: number, length: number): Int32Array;
  u8(offset: number, length: number): Uint8Array;
  allocF32(length: number): { offset: number; view: Float32Array };
  allocU8(length: number): { offset: number; view: Uint8Array };
}

interface Block {
  offset: number;
  bytes: number;
}

export class SharedArena implements ArenaAllocator {
  readonly memory: WebAssembly.Memory;
  private top = ARENA_BASE;
  /** Bytes below this were handed out at some time (above it the memory is still as the grow left it: zero). */
  private touched = ARENA_BASE;
  /** Freed blocks below `top`, by offset, never adjacent (merged as they are freed). */
  private readonly free: Block[] = [];

  constructor(initialBytes = 4 << 20) {
    const pages = Math.ceil(Math.max(initialBytes, ARENA_BASE + PAGE) / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: 16384, shared: true });
  }

  /**
   * Reserves `bytes` at an `align`-byte aligned offset (64 by default: a cache line; also what SIMD loads like),
   * zero-filled as fresh memory is: engines count on zero counters and zero optimizer state.
   */
  alloc(bytes: number, align = 64): number {
    const reused = this.takeFree(bytes, align);
    if (reused !== undefined) {
      this.u8(reused, bytes).fill(0);
      return reused;
    }
    const offset = Math.ceil(this.top / align) * align;
    const end = offset + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    if (offset > this.top) this.release(this.top, offset - this.top); // the alignment gap stays usable
    // Bytes between `top` and `touched` were used by a region since freed: clear them; above is still zero.
    if (offset < this.touched) this.u8(offset, Math.min(end, this.touched) - offset).fill(0);
    this.top = end;
    this.touched = Math.max(this.touched, end);
    return offset;
  }

  /** Gives a region back (the whole region `alloc` returned, with the size asked for). */
  release(offset: number, bytes: number): void {
    if (bytes <= 0) return;
    let at = 0;
    while (at < this.free.length && this.free[at].offset < offset) at++;
    this.free.splice(at, 0, { offset, bytes });
    // Merge with the next block, then the previous one.
    const merge = (i: number) => {
      const a = this.free[i], b = this.free[i + 1];
      if (a && b && a.offset + a.bytes === b.offset) {
        a.bytes += b.bytes;
        this.free.splice(i + 1, 1);
      }
    };
    merge(at);
    if (at > 0) merge(at - 1);
    // A free block that reaches the top lowers it.
    const last = this.free[this.free.length - 1];
    if (last && last.offset + last.bytes === this.top) {
      this.top = last.offset;
      this.free.pop();
    }
  }

  /** First fit among the freed blocks; the rest of the block (before and after the region) stays free. */
  private takeFree(bytes: number, align: number): number | undefined {
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      const offset = Math.ceil(b.offset / align) * align;
      if (offset + bytes > b.offset + b.bytes) continue;
      const after = { offset: offset + bytes, bytes: b.offset + b.bytes - offset - bytes };
      const before = { offset: b.offset, bytes: offset - b.offset };
      this.free.splice(i, 1, ...[before, after].filter((x) => x.bytes > 0));
      return offset;
    }
    return undefined;
  }

  /** A scope: regions allocated through it are given back together by its `release()`. */
  scope(): ArenaScope {
    return new ArenaScope(this);
  }

  /** The high-water mark of the regions in use, from offset 0. */
  get used(): number {
    return this.top;
  }

  /** Bytes in freed blocks below the high-water mark (what the next engines will reuse first). */
  get freeBytes(): number {
    return this.free.reduce((sum, b) => sum + b.bytes, 0);
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

/** One engine's regions of an arena, given back when the engine is closed and its threads are gone. */
export class ArenaScope implements ArenaAllocator {
  private regions: Block[] = [];
  private released = false;

  constructor(readonly arena: SharedArena) {}

  get memory(): WebAssembly.Memory {
    return this.arena.memory;
  }

  alloc(bytes: number, align = 64): number {
    if (this.released) throw new Error('allocation from a released arena scope');
    const offset = this.arena.alloc(bytes, align);
    this.regions.push({ offset, bytes });
    return offset;
  }

  /** Bytes this scope holds now. */
  get bytes(): number {
    return this.regions.reduce((sum, r) => sum + r.bytes, 0);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const r of this.regions.reverse()) this.arena.release(r.offset, r.bytes);
    this.regions = [];
  }

  f32(offset: number, length: number): Float32Array { return this.arena.f32(offset, length); }
  f64(offset: number, length: number): Float64Array { return this.arena.f64(offset, length); }
  i32(offset: number, length: number): Int32Array { return this.arena.i32(offset, length); }
  u8(offset: number, length: number): Uint8Array { return this.arena.u8(offset, length); }

  allocF32(length: number): { offset: number; view: Float32Array } { const o = this.alloc(length * 4); return { offset: o, view: this.f32(o, length) }; }
  allocU8(length: number): { offset: number; view: Uint8Array } { const o = this.alloc(length); return { offset: o, view: this.u8(o, length) }; }
}
