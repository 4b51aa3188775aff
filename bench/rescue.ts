// The rescue of held shards (sidecar/parallel/worker.ts) on and off, timed in one process: two training sessions on the
// real CIFAR-10, one whose workers take on a shard that another holds too long and one whose workers wait for it,
// train windows in turn, so both share the machine's drift. Another process loads the cores in every other window
// (stopped with SIGSTOP in the others): `wakeups` wakes about 400 times a second for 0.2 ms, `scan` works 100 ms every
// 2.3 s (as VS Code's search for ports does, BENCHMARKS.md twenty-fifth round), `busy` keeps a core busy.
//   node --import tsx bench/rescue.ts [--data DIR] [--batch 4] [--workers 2] [--load scan,wakeups] [--pairs 20]
//                                     [--window-ms 1000] [--after 1.5]
// --after N: the rescuing session's threads take a shard on after N of their own shards' time (EngineOptions
// rescueAfterShards; 0: as soon as they stop spinning, as 49307e4 did).
// Prints, per load, the median samples/s of each, the median of rescue-on over rescue-off in paired windows
// (onOverOffPaired), and with the load on, each over its own windows without it (overIdlePaired); and the shards
// won by a rescue and taken on (won or lost) a second. The two sessions' memory lies differently in each process, and
// that alone moved one against the other by up to 10% from one run to the next (BENCHMARKS.md twenty-eighth round):
// read several runs.
import { spawn } from 'node:child_process';
import { TrainingSession } from '../sidecar/session';
import { resolveConfig } from '../sidecar/protocol';
import { adamTrainerHome } from '../sidecar/store/paths';
import { RESCUE_AFTER_SHARDS } from '../sidecar/parallel/layout';
import { median } from './stats.mjs';
import { trainWindow } from '../sidecar/commands/bench';
import { arg, dataArg, LOAD_SCRIPTS, loadsArg } from './inProcess.mjs';

const data = dataArg();
const batchSize = Number(arg('batch', '4'));
const workers = Number(arg('workers', '2'));
const pairs = Number(arg('pairs', '20'));
const windowMs = Number(arg('window-ms', '1000'));
const loads = loadsArg('scan,wakeups');
const after = Number(arg('after', String(RESCUE_AFTER_SHARDS)));

async function main(): Promise<void> {
  const config = resolveConfig({ batchSize, workers, data, epochs: 10000, seed: 1 }, workers);
  // Fixed threads: the governor would otherwise try one thread now and then, in one session's windows and not the other's.
  const open = (rescue: boolean) => TrainingSession.create({ config, cacheDir: adamTrainerHome().cacheDir, engine: 'wasm', threads: { adaptThreads: false, rescue, rescueAfterShards: after } });
  const sessions = { off: await open(false), on: await open(true) };
  try {
    const window = async (session: TrainingSession): Promise<{ rate: number; rescuesPerSec: number; takenPerSec: number }> => {
      const rescues0 = session.engine.rescues;
      const taken0 = session.engine.rescuesTaken;
      const { samples, seconds } = await trainWindow(session, windowMs);
      return { rate: samples / seconds, rescuesPerSec: (session.engine.rescues - rescues0) / seconds, takenPerSec: (session.engine.rescuesTaken - taken0) / seconds };
    };
    await window(sessions.off); // warm: threads started, kernels compiled
    await window(sessions.on);
    for (const load of loads) {
      const other = spawn(process.execPath, ['-e', LOAD_SCRIPTS[load]], { stdio: 'ignore' });
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const cells = (['off', 'on'] as const).flatMap((rescue) => [false, true].map((loaded) => ({ rescue, loaded, rates: [] as number[], rescues: [] as number[], taken: [] as number[] })));
        for (let p = 0; p < pairs; p++) {
          // Each round in another order, so that no cell always follows the same one.
          for (const i of cells.map((_, k) => (k + p) % cells.length)) {
            const c = cells[i];
            other.kill(c.loaded ? 'SIGCONT' : 'SIGSTOP');
            if (c.loaded) await new Promise((resolve) => setTimeout(resolve, 20));
            const w = await window(sessions[c.rescue]);
            c.rates.push(w.rate);
            c.rescues.push(w.rescuesPerSec);
            c.taken.push(w.takenPerSec);
          }
        }
        const cell = (rescue: 'on' | 'off', loaded: boolean) => cells.find((c) => c.rescue === rescue && c.loaded === loaded)!;
        const paired = (a: number[], b: number[]) => +median(a.map((x, k) => x / b[k])).toFixed(3);
        for (const c of cells) {
          console.log(JSON.stringify({
            load: c.loaded ? load : 'idle (it stopped)', batchSize, workers, rescue: c.rescue, ...(c.rescue === 'on' ? { after } : {}),
            samplesPerSecMedian: Math.round(median(c.rates)),
            ...(c.rescue === 'on' ? { onOverOffPaired: paired(c.rates, cell('off', c.loaded).rates), rescuesPerSecMedian: Math.round(median(c.rescues)), takenPerSecMedian: Math.round(median(c.taken)) } : {}),
            ...(c.loaded ? { overIdlePaired: paired(c.rates, cell(c.rescue, false).rates) } : {}),
            windows: c.rates.length,
          }));
        }
      } finally {
        other.kill('SIGKILL');
      }
    }
  } finally {
    await sessions.off.close();
    await sessions.on.close();
  }
}

void main();
