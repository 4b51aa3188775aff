// How the trainer cuts a run into chunks (sidecar/trainer.ts chunkSteps): never across a log line, a checkpoint or
// --max-steps, and never a sliver of a chunk left before such a boundary, on configurations drawn at random.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../sidecar/rng';
import { CHUNK_STRETCH, chunkSteps } from '../sidecar/trainer';

/** The chunks of a whole run of `maxSteps` steps, each sized for `target` steps, as the trainer's loop cuts them. */
function chunksOf(target: number, c: { logEvery: number; checkpointEvery: number; maxSteps: number }): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  for (let step = 0; step < c.maxSteps; ) {
    const n = chunkSteps(step, target, c);
    chunks.push([step, n]);
    step += n;
  }
  return chunks;
}

test('on 300 random configurations a chunk never crosses a log line, a checkpoint or the last step, and none shorter than half its target starts between boundaries', () => {
  const rng = new Rng(13);
  const int = (lo: number, hi: number) => lo + (rng.nextU32() % (hi - lo + 1));
  for (let k = 0; k < 300; k++) {
    const c = { logEvery: int(1, 400), checkpointEvery: int(1, 3000), maxSteps: int(1, 20_000) };
    const target = int(1, 600);
    const at = (step: number) => step % c.logEvery === 0 || step % c.checkpointEvery === 0;
    const chunks = chunksOf(target, c);
    const what = `chunks of ${target} steps, a log line every ${c.logEvery}, a checkpoint every ${c.checkpointEvery}, ${c.maxSteps} steps`;
    for (const [step, n] of chunks) {
      assert.ok(n >= 1 && n <= Math.ceil(target * CHUNK_STRETCH), `${what}: a chunk of ${n} at step ${step}`);
      for (let s = step + 1; s < step + n; s++) assert.ok(!at(s), `${what}: the chunk from step ${step} crosses step ${s}`);
      if (n < target / 2 && step + n < c.maxSteps) assert.ok(step === 0 || at(step), `${what}: a sliver of ${n} steps after step ${step}`);
    }
    // Every boundary in the run ends a chunk.
    const ends = new Set(chunks.map(([step, n]) => step + n));
    for (let s = 1; s < c.maxSteps; s++) if (at(s)) assert.ok(ends.has(s), `${what}: no chunk ends at step ${s}`);
    assert.ok(ends.has(c.maxSteps), `${what}: the last chunk ends at the last step`);
  }
});

test('at batch 4 (about 90 steps a chunk, a log line every 100) a run is one chunk per log line, not two', () => {
  const chunks = chunksOf(90, { logEvery: 100, checkpointEvery: 1000, maxSteps: 12_000 });
  assert.equal(chunks.length, 120);
  assert.ok(chunks.every(([, n]) => n === 100));
});
