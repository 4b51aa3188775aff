// Draw at most once per interval, however many messages arrive (OnTheFly's ~100 ms stream buffer): the
// data is updated on every message, the charts only when the timer fires.
export class FrameThrottle {
  private timer?: ReturnType<typeof setTimeout>;
  private lastRunMs = -Infinity;

  constructor(
    private readonly run: () => void,
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {}

  request(): void {
    if (this.timer !== undefined) return;
    const waitMs = Math.max(0, this.lastRunMs + this.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastRunMs = this.now();
      this.run();
    }, waitMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
