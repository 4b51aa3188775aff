// One shard per worker against several (issue 13, fourteenth round), timed in one process: a training session on the
// real CIFAR-10 trains windows of chunks cut one way, then the other, in turn, so both share the machine's drift
// (runs of separate processes minutes apart spread by a third on this machine). Another process loads the cores in
// every other window (stopped with SIGSTOP in the others): `wakeups` wakes about 400 times a second for 0.2 ms (as VS
// Code's processes do around an editor), `busy` keeps a core busy.
//   node --import tsx bench/shards.ts [--data DIR] [--batch 32] [--workers 2] [--load wakeups,busy] [--pairs 40]
//                                     [--window-ms 500] [--cut 1,4]
// Prints, per load and cut, the median samples/s over its windows, the median ratio to the first cut's window of the
// same round (overFirstCutPaired), and with the load on, to the same cut's window without it (overIdlePaired).
import { spawn } from 'node:child_process';
import { TrainingSession } from '../sidecar/session';
import { resolveConfig } from '../sidecar/protocol';
import { adamTrainerHome } from '../sidecar/store/paths';
import { median } from './stats.mjs';
import { trainWindow } from '../sidecar/commands/bench';
import { arg, dataArg, LOAD_SCRIPTS, loadsArg } from './inProcess.mjs';

const data = dataArg();
const batchSize = Number(arg('batch', '32'));
const workers = Number(arg('workers', '2'));
const pairs = Number(arg('pairs', '40'));
const windowMs = Number(arg('window-ms', '500'));
const cuts = arg('cut', '1,4').split(',').map(Number);
const loads = loadsArg('wakeups');

async function main(): Promise<void> {
  const config = resolveConfig({ batchSize, workers, data, epochs: 10000, seed: 1 }, workers);
  // Fixed threads: the governor would otherwise try one thread now and then, in one cut's windows and not the other's.
  const session = await TrainingSession.create({ config, cacheDir: adamTrainerHome().cacheDir, engine: 'wasm', threads: { adaptThreads: false } });
  try {
    const window = async (): Promise<number> => {
      const { samples, seconds } = await trainWindow(session, windowMs);
      return samples / seconds;
    };
    await window(); // warm: threads started, kernels compiled
    for (const load of loads) {
      // The other process runs throughout, stopped (SIGSTOP) for the windows without it: each pair of windows then
      // differs in the load alone, and the cost of the load is measured as paired as the cut.
      const other = spawn(process.execPath, ['-e', LOAD_SCRIPTS[load]], { stdio: 'ignore' });
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const cells = cuts.flatMap((cut) => [false, true].map((on) => ({ cut, on, rates: [] as number[] })));
        for (let p = 0; p < pairs; p++) {
          // Each round in another order, so that no cell always follows the same one.
          for (const i of cells.map((_, k) => (k + p) % cells.length)) {
            const c = cells[i];
            other.kill(c.on ? 'SIGCONT' : 'SIGSTOP');
            if (c.on) await new Promise((resolve) => setTimeout(resolve, 20));
            session.engine.setMaxShardsPerWorker(c.cut);
            c.rates.push(await window());
          }
        }
        const cell = (cut: number, on: boolean) => cells.find((c) => c.cut === cut && c.on === on)!;
        const pairedRatio = (a: number[], b: number[]) => +median(a.map((x, k) => x / b[k])).toFixed(3);
        for (const c of cells) {
          console.log(JSON.stringify({
            load: c.on ? load : 'idle (it stopped)', batchSize, workers, shardsPerWorker: c.cut,
            samplesPerSecMedian: Math.round(median(c.rates)),
            overFirstCutPaired: pairedRatio(c.rates, cell(cuts[0], c.on).rates),
            ...(c.on ? { overIdlePaired: pairedRatio(c.rates, cell(c.cut, false).rates) } : {}),
            windows: c.rates.length,
          }));
        }
      } finally {
        other.kill('SIGKILL');
      }
    }
  } finally {
    await session.close();
  }
}

void main();
