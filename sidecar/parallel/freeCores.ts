// How many workers `train` gives a run that does not say (issue 13): one per core that other programs leave free
// when the run starts. Two workers on a machine where another program holds one of two cores wait for each other
// at every step while one of them is not scheduled; the thread governor (governor.ts) then runs both workers'
// shards on one thread, which keeps the numbers but pays for the second shard (about 12% at batch 4 on an idle
// machine, a quarter with a core busy). A run started with one worker pays nothing. The numbers are those of the
// chosen count, bit for bit, and the run records it (its config's `workers`): `--workers N` gives the same run
// again on any load. `serve` gives one per core: its runs start as its clients do, and a dashboard opening with
// its run keeps a core busy for that moment (runManager.ts).
import { cpus } from 'node:os';
import { UserError } from '../errors';
import { fieldError } from '../protocol';

export interface CoreChoice {
  workers: number;
  cores: number;
  /** Cores other programs kept busy while we looked (all cores' busy time less this process's own). */
  othersBusy: number;
}

/** A core counts as taken when other programs keep at least three quarters of it busy. */
export function workersForFreeCores(cores: number, othersBusy: number): number {
  if (!(Number.isInteger(cores) && cores >= 1)) throw new Error(`cores must be a whole number >= 1, got ${cores}`);
  const taken = Math.floor(Math.max(0, Number.isFinite(othersBusy) ? othersBusy : 0) + 0.25);
  return Math.max(1, Math.min(cores, cores - taken));
}

/** Milliseconds every core has been busy since boot, summed. */
function busyMilliseconds(): number {
  let busy = 0;
  for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return busy;
}

/** Watches the machine for `ms` and picks the worker count (cores - the cores other programs hold, at least 1). */
export async function chooseWorkers(ms = 250): Promise<CoreChoice> {
  const meter = new LoadMeter(ms);
  await new Promise((r) => setTimeout(r, ms));
  // Linux counts CPU time in ticks of 10 ms: over 250 ms on a quiet machine this reads a few hundredths of a core.
  const othersBusy = meter.read(true)!;
  const cores = Math.max(1, cpus().length);
  return { workers: workersForFreeCores(cores, othersBusy), cores, othersBusy };
}

/**
 * The cores other programs keep busy while a run trains, read between chunks for the thread governor: the machine's
 * busy time less this process's own (its worker threads included), over windows of at least `windowMs` (Linux counts
 * in ticks of 10 ms), smoothed over the last few windows so that one burst of an editor's does not read as a core
 * taken.
 */
export class LoadMeter {
  private at = performance.now();
  private machine = busyMilliseconds();
  private own = process.cpuUsage();
  private siblingMs: number;
  private smoothed: number | undefined;

  /**
   * `siblings`: milliseconds of work done so far by this process's other runs (each engine's threads times its
   * chunks' seconds), which count as other programs' for this run: two runs of one server on two cores hold each
   * other's cores as another program would.
   */
  constructor(private readonly windowMs = 500, private readonly siblings: () => number = () => 0) {
    this.siblingMs = siblings();
  }

  /** The smoothed reading when a window has just closed (or `now`, whatever its length), else undefined. */
  read(now = false): number | undefined {
    const at = performance.now();
    const wall = at - this.at;
    if (!(wall >= this.windowMs || (now && wall > 0))) return undefined;
    const machine = busyMilliseconds();
    const own = process.cpuUsage();
    const siblingMs = this.siblings();
    const ownMs = (own.user - this.own.user + own.system - this.own.system) / 1000;
    const others = Math.max(0, (machine - this.machine - ownMs) / wall) + Math.max(0, siblingMs - this.siblingMs) / wall;
    this.at = at;
    this.machine = machine;
    this.own = own;
    this.siblingMs = siblingMs;
    this.smoothed = this.smoothed === undefined ? others : 0.5 * this.smoothed + 0.5 * others;
    return this.smoothed;
  }
}

/** What `train` prints on stderr when it starts with fewer workers than cores. */
export function fewerWorkersNote(c: CoreChoice): string | null {
  if (c.workers >= c.cores) return null;
  return `${c.workers} worker${c.workers === 1 ? '' : 's'} of ${c.cores} cores: other programs kept ${c.othersBusy.toFixed(2)} cores busy as the run started (--workers ${c.cores} to use them all)`;
}

/**
 * ADAM_TRAINER_WORKERS: the worker count of a `train` run that does not say, instead of the free cores' (as
 * OMP_NUM_THREADS is for a PyTorch script): for a machine whose load at the start says nothing about the run's, and
 * for `npm test`, which runs two test files at once and needs the same count from every run it compares.
 */
export function workersFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.ADAM_TRAINER_WORKERS;
  if (raw === undefined || raw === '') return undefined;
  const n = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  const error = fieldError('workers', n); // "workers must be ..., got NaN": the rule is the schema's, the value the user's
  if (error !== undefined) throw new UserError('bad_usage', `ADAM_TRAINER_${error.replace(/^workers/, 'WORKERS').replace(/, got .*$/, '')}, got '${raw}'`);
  return n;
}
