// The arena's allocator, under random sequences of allocations and releases (fast-check): runs of one dataset
// allocate and free their engines' regions in one memory, so a region must never overlap another live one, must
// come zeroed (engines count on zero counters and optimizer state), and freeing everything must give back the
// whole space, so run after run on one dataset does not grow the memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ARENA_BASE, SharedArena } from '../../sidecar/parallel/arena';

type Op = { kind: 'alloc'; bytes: number; align: number } | { kind: 'free'; pick: number } | { kind: 'scope'; sizes: number[]; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('alloc' as const), bytes: fc.integer({ min: 1, max: 300_000 }), align: fc.constantFrom(4, 16, 64, 4096) }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('scope' as const), sizes: fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 5 }), pick: fc.nat() }),
);

test('regions never overlap, come zeroed and aligned, and freeing them all returns the arena to its base', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const arena = new SharedArena();
      // What is held: plain regions, or a scope's regions that go back together.
      const groups: Array<{ regions: Array<{ offset: number; bytes: number; fill: number }>; free: () => void }> = [];
      let next = 0;
      const take = (offset: number, bytes: number, align: number) => {
        assert.equal(offset % align, 0, `offset ${offset} is not ${align}-aligned`);
        assert.ok(offset >= ARENA_BASE && offset + bytes <= arena.memory.buffer.byteLength, 'outside the memory');
        for (const g of groups) {
          for (const r of g.regions) assert.ok(offset + bytes <= r.offset || r.offset + r.bytes <= offset, `[${offset}, +${bytes}) overlaps [${r.offset}, +${r.bytes})`);
        }
        const view = arena.u8(offset, bytes);
        assert.ok(view.every((b) => b === 0), 'a region came with bytes of an earlier one');
        const fill = (next++ % 255) + 1;
        view.fill(fill); // dirty it, so a reuse that forgets to clear is caught
        return { offset, bytes, fill };
      };
      for (const o of ops) {
        if (o.kind === 'alloc') {
          const r = take(arena.alloc(o.bytes, o.align), o.bytes, o.align);
          groups.push({ regions: [r], free: () => arena.release(r.offset, r.bytes) });
        } else if (o.kind === 'scope') {
          const scope = arena.scope();
          const regions = [];
          for (const bytes of o.sizes) regions.push(take(scope.alloc(bytes), bytes, 64));
          assert.equal(scope.bytes, o.sizes.reduce((a, b) => a + b, 0));
          groups.push({ regions, free: () => scope.release() });
        } else if (groups.length) {
          groups.splice(o.pick % groups.length, 1)[0].free();
        }
        // Every byte still held keeps its own fill: no allocation wrote over a live region.
        for (const g of groups) for (const r of g.regions) assert.ok(arena.u8(r.offset, r.bytes).every((b) => b === r.fill), 'a live region was overwritten');
      }
      for (const g of groups.splice(0)) g.free();
      assert.equal(arena.used, ARENA_BASE, 'freeing everything should bring the top back to the base');
      assert.equal(arena.freeBytes, 0);
    }),
    { numRuns: 200 },
  );
});

test('a released scope gives its regions to the next engine, which gets them zeroed, and the memory stops growing', () => {
  const arena = new SharedArena();
  const dataset = arena.alloc(3 << 20);
  let size = 0;
  for (let run = 0; run < 20; run++) {
    const scope = arena.scope();
    const params = scope.alloc(62_006 * 4);
    const counters = scope.i32(scope.alloc(128), 32);
    assert.ok(counters.every((x) => x === 0));
    assert.ok(arena.f32(params, 62_006).every((x) => x === 0));
    counters.fill(7);
    arena.f32(params, 62_006).fill(1.5);
    scope.alloc(1 << 20);
    if (run === 0) size = arena.memory.buffer.byteLength;
    scope.release();
    assert.throws(() => scope.alloc(16), /released arena scope/);
  }
  assert.equal(arena.memory.buffer.byteLength, size, '20 runs one after the other fit where the first did');
  assert.equal(arena.used, dataset + (3 << 20));
});
