// How many of the engine's threads take training tasks: all of them on a machine that has the cores, fewer when
// another program holds a core. A thread the OS does not schedule still owns nothing (any thread takes any task),
// but a thread that is scheduled only part of the time pays for switching and for waiting on the others, and two
// threads on one free core train slower than one (issue 13). So the engine measures: each chunk reports its
// seconds per step with the count it ran with; now and then a chunk tries one thread more or fewer; a count that
// trains faster by a margin in two such tries in a row is kept. The numbers never change: the shards are the worker
// count's, whichever threads run them.
export interface GovernorOptions {
  /** After this many chunks, one chunk tries a neighbouring thread count; each probe that finds nothing faster doubles
   * the wait (up to maxProbeEvery), so a machine that stays as it is pays almost nothing for the probes. */
  probeEvery: number;
  maxProbeEvery: number;
  /** A neighbour must be this much faster (a fraction) to be chosen. */
  margin: number;
  /** Each chunk's weight in the running estimate of a count's seconds per step (older ones decay by 1 - this). */
  weight: number;
  /** Probes in a row a neighbour must win before the engine moves to it (1: at once). A probe is one chunk, and a
   * chunk's time varies by a fifth or more on a shared machine; a second probe two chunks later squares the odds of
   * moving on noise, and costs a run that starts with a core taken two chunks more (issue 13: a watched run at batch
   * 4 spent 74% of its steps on one thread and was the slowest of its three). */
  confirm: number;
}

// The first probe comes at the third chunk (about 75 ms into the run; the first only warms up) and its confirmation
// at the fifth: a run that starts with a core taken switches within 150 ms instead of spending its first 300 ms at a
// third of the speed (bench/contended.mjs, batch 4, one core busy: 0.93x of one worker with the first probe at the
// 12th chunk). Probes that find nothing faster then back off 2, 4, ... 192 chunks apart.
export const DEFAULT_GOVERNOR: GovernorOptions = { probeEvery: 2, maxProbeEvery: 192, margin: 0.04, weight: 0.35, confirm: 2 };

/**
 * How much of a core other programs must keep busy, for each thread given up, before fewer threads are tried. Chunk
 * times alone could not tell an editor's bursts from a core taken: in code-server (VS Code, its renderer and the
 * dashboard: 0.15-0.3 cores) the governor spent 30-74% of a watched run's chunks on one thread, and the run trained
 * at 0.85x (hidden) and 0.77x (visible) of its headless speed, against 0.95x and 0.91x with two threads fixed (issue
 * 13, BENCHMARKS.md "Seventh round"). Threads that share the cores left with half a core taken still have 1.5 cores
 * between two; with a whole core taken (a build, a busy loop) they have one, and one thread is faster.
 */
export const CORE_HELD = 0.5;

interface Estimate {
  seconds: number;
  steps: number;
}

export class ThreadGovernor {
  private current: number;
  private sinceProbe = 0;
  private probeEvery: number;
  private probeUp = false;
  private readonly estimates = new Map<number, Estimate>();
  private lastProbe: number | null = null;
  private warm = 0;
  /** The neighbour that won the last probe, and how many probes in a row it has won. */
  private winner: number | null = null;
  private wins = 0;
  /** Cores other programs keep busy (setLoad), or undefined while unknown: then chunk times decide alone. */
  private othersBusy: number | undefined;

  constructor(
    readonly max: number,
    private readonly opts: GovernorOptions = DEFAULT_GOVERNOR,
  ) {
    if (!(Number.isInteger(max) && max >= 1)) throw new Error(`thread governor needs at least 1 thread, got ${max}`);
    this.current = max;
    this.probeEvery = opts.probeEvery;
    this.sinceProbe = opts.probeEvery - 1; // the first probe as soon as the count in use is measured
  }

  /** The count the run settled on (a probing chunk aside). */
  get settled(): number {
    return this.current;
  }

  /**
   * The cores other programs kept busy lately (the machine's busy time less this process's own). Fewer threads
   * than `max` are allowed only while others hold CORE_HELD of a core for each thread given up; when they no longer
   * do, the engine goes back to what they leave it at once.
   */
  setLoad(othersBusy: number): void {
    if (!Number.isFinite(othersBusy)) return;
    this.othersBusy = Math.max(0, othersBusy);
    const allowed = this.fewest();
    if (this.current < allowed) {
      this.current = allowed;
      this.winner = null;
      this.wins = 0;
      this.probeEvery = this.opts.probeEvery;
    }
    if (this.winner !== null && this.winner < allowed) {
      this.winner = null;
      this.wins = 0;
    }
  }

  /** The fewest threads the load allows (1 while it is unknown). */
  private fewest(): number {
    if (this.othersBusy === undefined) return 1;
    return Math.max(1, this.max - Math.floor(this.othersBusy / CORE_HELD));
  }

  /** The thread count for the next chunk: the settled one, or a neighbour to try. */
  next(): number {
    this.lastProbe = null;
    // Nothing to compare a probe with until the count in use has been measured (the first chunk only warms up).
    if (this.max === 1 || !this.estimates.has(this.current) || ++this.sinceProbe < this.probeEvery) return this.current;
    this.sinceProbe = 0;
    // A neighbour that won the last probe is tried again; otherwise alternate between one more and one fewer.
    if (this.winner !== null) return (this.lastProbe = this.winner);
    this.probeUp = !this.probeUp;
    const low = this.fewest();
    let probe = this.current + (this.probeUp ? 1 : -1);
    if (probe < low || probe > this.max) probe = this.current + (this.probeUp ? -1 : 1);
    if (probe < low || probe > this.max) return this.current; // the load allows no neighbour: nothing to try
    this.lastProbe = probe;
    return probe;
  }

  /** A chunk of `steps` steps took `seconds` with `threads` threads. */
  report(threads: number, steps: number, seconds: number): void {
    if (!(steps > 0 && seconds > 0)) return;
    // The first chunk of a run (or of a batch size) warms up: pages of memory touched for the first time, code
    // compiled. It says nothing about thread counts, and counted, it made the first probe look faster than it was.
    if (this.warm++ === 0) return;
    const e = this.estimates.get(threads);
    const w = this.opts.weight;
    // A probe's count was last measured long ago (the machine may have changed since): its chunk replaces that
    // estimate instead of being blended into it, or a stale figure would keep the engine on the wrong count for
    // the probes' whole back-off.
    const fresh = !e || threads === this.lastProbe;
    this.estimates.set(threads, fresh ? { seconds, steps } : { seconds: e.seconds * (1 - w) + seconds * w, steps: e.steps * (1 - w) + steps * w });
    if (threads !== this.lastProbe) return;
    const here = this.perStep(this.current);
    const there = this.perStep(threads);
    if (here !== undefined && there !== undefined && there < here * (1 - this.opts.margin)) {
      this.wins = this.winner === threads ? this.wins + 1 : 1;
      this.winner = threads;
      this.probeEvery = this.opts.probeEvery; // the machine may have changed: look again soon
      if (this.wins >= this.opts.confirm) {
        this.current = threads;
        this.winner = null;
        this.wins = 0;
      }
    } else {
      this.winner = null;
      this.wins = 0;
      this.probeEvery = Math.min(this.opts.maxProbeEvery, this.probeEvery * 2);
    }
  }

  /** Forget what was measured (the work per step changed: another batch size). */
  reset(): void {
    this.estimates.clear();
    this.warm = 0;
    this.sinceProbe = this.opts.probeEvery - 1;
    this.probeEvery = this.opts.probeEvery;
    this.winner = null;
    this.wins = 0;
  }

  perStep(threads: number): number | undefined {
    const e = this.estimates.get(threads);
    return e ? e.seconds / e.steps : undefined;
  }
}
