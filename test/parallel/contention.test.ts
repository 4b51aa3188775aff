// The engine while another program keeps a core busy: a thread the OS does not schedule may fall a whole chunk
// behind. Any thread may then take its tasks, and nothing it reads late may mix one command with the next: the
// numbers (every step's loss, each evaluation, the parameters) are those of an uncontended run with the same
// worker count, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { session } from './helpers';

async function trace(workers: number, batchSize = 4): Promise<string[]> {
  const s = await session({ seed: 12, workers, batchSize }, { train: 256, test: 64 });
  const out: string[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const chunk = await s.trainChunk(1 + (i % 3)); // short chunks: commands follow each other closely
      out.push([...chunk.losses].join(','));
      const e = await s.evaluate(); // an evaluation right after a chunk, as at an epoch's end
      out.push(`${e.testLoss},${e.testAccuracy}`);
    }
    out.push(s.parametersSha256());
  } finally {
    await s.close();
  }
  return out;
}

test('with a core busy, 2 and 3 workers give exactly the uncontended losses, evaluations and parameters, at batch 4 and 32', { timeout: 120_000 }, async () => {
  const cases = [[2, 4], [3, 4], [2, 32], [3, 32]] as const;
  const quiet = new Map<string, string[]>();
  for (const [w, b] of cases) quiet.set(`${w}/${b}`, await trace(w, b));
  const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  try {
    for (const [workers, batch] of cases) {
      for (let repeat = 0; repeat < 2; repeat++) assert.deepEqual(await trace(workers, batch), quiet.get(`${workers}/${batch}`), `${workers} workers, batch ${batch}, repeat ${repeat}`);
    }
  } finally {
    busy.kill('SIGKILL');
  }
});
