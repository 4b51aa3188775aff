// How long the dashboard's own drawing takes, measured by the page: the last FRAMES durations of `render`
// (charts and panels, synchronously, which is where chart.js draws). Read by `npm run bench:watched` through
// `window.adamFrames`, and by the draw scheduler, which spaces frames so drawing stays within its budget.
const FRAMES = 4096;

export class FrameStats {
  private readonly durations = new Float64Array(FRAMES);
  private readonly at = new Float64Array(FRAMES);
  private written = 0;

  record(startMs: number, endMs: number): void {
    const i = this.written++ % FRAMES;
    this.durations[i] = endMs - startMs;
    this.at[i] = startMs;
  }

  get count(): number {
    return this.written;
  }

  /** The durations (ms) of the frames drawn at or after `sinceMs` (page clock), oldest first. */
  since(sinceMs = -Infinity): number[] {
    const n = Math.min(this.written, FRAMES);
    const out: number[] = [];
    for (let k = this.written - n; k < this.written; k++) if (this.at[k % FRAMES] >= sinceMs) out.push(this.durations[k % FRAMES]);
    return out;
  }

  /** Mean of the last `n` frames' durations (ms), 0 before the first frame. */
  recentMean(n = 8): number {
    const m = Math.min(n, this.written);
    let sum = 0;
    for (let k = this.written - m; k < this.written; k++) sum += this.durations[k % FRAMES];
    return m ? sum / m : 0;
  }
}
