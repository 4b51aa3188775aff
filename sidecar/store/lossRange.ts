// A range of a run's per-step losses (losses.f32: step i's loss at index i - 1), for a chart zoomed into it: read
// with positional reads in bounded pieces (a range of any length costs a fixed amount of memory), and summarised
// to at most `points` buckets, each the mean, min and max of its steps and the last step's number. A range of up
// to `points` steps comes back step by step: the run's full detail.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors';

export interface LossRange {
  steps: number[];
  mean: number[];
  min: number[];
  max: number[];
}

const PIECE_STEPS = 1 << 20; // 4 MB a read

/** Steps fromStep + 1 .. toStep (clipped to what the file holds) of the run folder's losses.f32. */
export function readLossRange(runDir: string, fromStep: number, toStep: number, points: number): LossRange {
  const out: LossRange = { steps: [], mean: [], min: [], max: [] };
  const file = join(runDir, 'losses.f32');
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out; // a run that has not trained a step yet
    throw new UserError('read_failed', `could not read ${file}: ${(e as Error).message}`);
  }
  try {
    const recorded = Math.floor(fstatSync(fd).size / 4);
    const first = Math.max(0, fromStep); // index of step fromStep + 1
    const end = Math.min(recorded, toStep); // one past the index of step toStep
    const n = end - first;
    if (n <= 0) return out;
    const per = Math.ceil(n / points);
    const buf = Buffer.alloc(Math.min(n, PIECE_STEPS) * 4);
    let sum = 0, lo = Infinity, hi = -Infinity, count = 0;
    for (let at = first; at < end; ) {
      const take = Math.min(end - at, PIECE_STEPS);
      const got = readSync(fd, buf, 0, take * 4, at * 4);
      if (got < take * 4) throw new UserError('read_failed', `${file} ended early (read ${got} of ${take * 4} bytes at step ${at + 1})`);
      for (let i = 0; i < take; i++) {
        const loss = buf.readFloatLE(i * 4);
        sum += loss;
        lo = Math.min(lo, loss);
        hi = Math.max(hi, loss);
        count++;
        const step = at + i + 1;
        if (count === per || step === end) {
          out.steps.push(step);
          out.mean.push(sum / count);
          out.min.push(lo);
          out.max.push(hi);
          sum = 0; lo = Infinity; hi = -Infinity; count = 0;
        }
      }
      at += take;
    }
    return out;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError('read_failed', `could not read ${file}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
