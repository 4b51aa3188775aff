// When the dashboard draws. Data is updated on every message; the charts and panels are drawn at most once a
// frame interval, and only while the page is visible. The interval follows the page's own cost: each frame is
// timed, and the next one waits long enough that drawing takes at most `budget` of one core (a frame of 10 ms
// with a budget of 2% waits 500 ms), never less than `minIntervalMs` nor more than `maxIntervalMs`. A frame's
// cost is not only the JavaScript that draws it: it runs from the start of the draw until the browser has
// styled, laid out and painted what it changed (a task queued from inside the frame runs after that). A hidden
// page (a background tab, a VS Code panel that is not shown) draws nothing; it draws once when shown again.
/**
 * A page hidden this long (a background tab) lets go of its runs' live messages (dashboard.ts): it draws nothing, and
 * each message woke the browser to check and keep it, 20 a second, on cores the run trains on. Shown again, it
 * subscribes anew and the histories bring it up to date. Long enough that switching tabs back and forth costs no
 * history.
 */
export const HIDDEN_RELEASE_MS = 5_000;

export interface SchedulerEnv {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `fn` before the next paint (requestAnimationFrame). */
  frame(fn: () => void): void;
  /** Runs `fn` in a task queued now: called from inside a frame, after the browser has painted that frame. */
  afterFrame(fn: () => void): void;
  hidden(): boolean;
  onVisibilityChange(fn: () => void): void;
}

export interface SchedulerOptions {
  minIntervalMs: number;
  maxIntervalMs: number;
  /** The share of one core that the page's own frame time may take. */
  budget: number;
}

/**
 * 2% of one core for the page's frames. What the page times is only its own part of a frame: the browser then
 * composites and rasterizes it on other threads and processes, and in VS Code the workbench around the webview is
 * drawn again too, and every post of the live stream crosses it. In code-server with both cores training
 * (bench/vscodeCpu.mjs, interleaved; BENCHMARKS.md "Twentieth round"), 4% with a post every 250 ms left VS Code at
 * 0.17 / 0.17 / 0.22 cores with the dashboard visible, and 2% with the posts following the page's pace (relay.ts) at
 * 0.13 / 0.14 / 0.15 (four more pairs: 0.18 / 0.16 / 0.15 / 0.16 against 0.19 / 0.20 / 0.19 / 0.18, the run getting
 * 0.01-0.07 cores more); neither change alone moved it beyond the trials' spread. While a run keeps both cores busy,
 * frames there take 45-60 ms and the page draws every 2 s, its slowest.
 */
export const DEFAULT_SCHEDULE: SchedulerOptions = { minIntervalMs: 200, maxIntervalMs: 2000, budget: 0.02 };

export function browserEnv(): SchedulerEnv {
  const channel = new MessageChannel();
  const queued: (() => void)[] = [];
  channel.port1.onmessage = () => queued.shift()?.();
  return {
    now: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    frame: (fn) => requestAnimationFrame(() => fn()),
    afterFrame: (fn) => {
      queued.push(fn);
      channel.port2.postMessage(null);
    },
    hidden: () => document.hidden,
    onVisibilityChange: (fn) => document.addEventListener('visibilitychange', fn),
  };
}

export class DrawScheduler {
  private timer?: unknown;
  private dirty = false;
  private lastDrawAt = -Infinity;
  private readonly costs: number[] = [];
  /** The interval last told to `onInterval`. */
  private toldIntervalMs?: number;

  /**
   * `draw`: draws everything that changed, synchronously. `onFrame`: told each frame's start and the end of its
   * cost (after the paint), on the page's clock. `onInterval`: told the interval after the first frame, and again
   * whenever it has moved by more than a fifth since it was last told (VS Code's relay batches the live stream by it).
   */
  constructor(
    private readonly draw: () => void,
    private readonly opts: SchedulerOptions = DEFAULT_SCHEDULE,
    private readonly env: SchedulerEnv = browserEnv(),
    private readonly onFrame?: (startMs: number, endMs: number) => void,
    private readonly onInterval?: (intervalMs: number) => void,
  ) {
    env.onVisibilityChange(() => {
      if (!env.hidden() && this.dirty) this.request();
    });
  }

  /** The wait between two draws now: the recent frames' mean cost divided by the budget, within the bounds. */
  get intervalMs(): number {
    const mean = this.costs.length ? this.costs.reduce((a, b) => a + b, 0) / this.costs.length : 0;
    return Math.min(this.opts.maxIntervalMs, Math.max(this.opts.minIntervalMs, mean / this.opts.budget));
  }

  /**
   * Something changed: draw it at the next allowed frame (at once if the last draw was long enough ago). `soon`:
   * something the user is waiting for (their own input: a setting, a run opened or overlaid, a chart scrolled into
   * view; or a run they opened has arrived), drawn at the next frame whatever the interval. Only the live stream
   * waits for the interval.
   */
  request(soon = false): void {
    this.dirty = true;
    if (this.env.hidden()) return;
    if (soon && this.timer !== undefined) {
      this.env.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.timer !== undefined) return;
    const wait = soon ? 0 : Math.max(0, this.lastDrawAt + this.intervalMs - this.env.now());
    this.timer = this.env.setTimeout(() => this.env.frame(() => this.run()), wait);
  }

  cancel(): void {
    if (this.timer !== undefined) this.env.clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
  }

  private run(): void {
    this.timer = undefined;
    if (!this.dirty || this.env.hidden()) return; // cancelled, or hidden since: drawn when shown
    this.dirty = false;
    const start = this.env.now();
    this.lastDrawAt = start;
    try {
      this.draw();
    } finally {
      this.env.afterFrame(() => {
        const end = this.env.now();
        this.costs.push(end - start);
        if (this.costs.length > 8) this.costs.shift();
        this.onFrame?.(start, end);
        const interval = this.intervalMs;
        if (this.toldIntervalMs === undefined || Math.abs(interval - this.toldIntervalMs) > this.toldIntervalMs / 5) {
          this.toldIntervalMs = interval;
          this.onInterval?.(interval);
        }
      });
    }
  }
}
