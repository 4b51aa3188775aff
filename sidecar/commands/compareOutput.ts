// What `adam-trainer compare` shows without --json: a progress bar on a terminal (a line per finished run
// otherwise) and, at the end, the per-seed table with the statistics.
import type { ComparisonSummary, SampleSummary, SeedResult } from '../stats';

const BAR_WIDTH = 28;
const REDRAW_MS = 200;

export class ProgressBar {
  private readonly fractions = new Map<string, { label: string; fraction: number }>();
  private finishedCount = 0;
  private lastDraw = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  progress(runId: string, label: string, fraction: number): void {
    this.fractions.set(runId, { label, fraction });
    if (performance.now() - this.lastDraw >= REDRAW_MS) this.draw();
  }

  finished(runId: string, text: string): void {
    this.fractions.delete(runId);
    this.finishedCount++;
    if (this.tty) {
      this.clear();
      this.stream.write(`  ${text}\n`);
      this.draw();
    } else this.stream.write(`[${this.finishedCount}/${this.total}] ${text}\n`);
  }

  end(): void {
    if (this.tty) this.clear();
  }

  private clear(): void {
    this.stream.write('\r\x1b[2K');
  }

  private draw(): void {
    this.lastDraw = performance.now();
    if (!this.tty) return;
    let done = this.finishedCount;
    for (const f of this.fractions.values()) done += f.fraction;
    const filled = Math.round((BAR_WIDTH * done) / this.total);
    const elapsed = Math.round((performance.now() - this.t0) / 1000);
    const running = [...this.fractions.values()].map((f) => f.label).join(', ');
    const line = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${this.finishedCount}/${this.total} runs  ` +
      `${Math.floor((100 * done) / this.total)}%  ${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, '0')}` + (running ? `  ${running}` : '');
    const columns = this.stream.columns ?? 120;
    this.clear();
    this.stream.write(line.length > columns - 1 ? line.slice(0, columns - 2) + '…' : line);
  }
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
const pts = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`);
const interval = (s: SampleSummary, f: (x: number) => string) => (s.ci95 ? `${f(s.ci95[0])} .. ${f(s.ci95[1])}` : '-');

/** Seeds down, optimizers across (test accuracy), then the paired difference in points; mean, std and CI last. */
export function resultsTable(results: readonly SeedResult[], summary: ComparisonSummary, optimizers: readonly string[], seeds: readonly number[]): string {
  const d = summary.difference;
  const head = ['seed', ...optimizers.map((o) => `${o} test acc`), ...(d ? [`${d.a} - ${d.b} (points)`] : [])];
  const rows: string[][] = [head];
  const acc = (o: string, s: number) => results.find((r) => r.optimizer === o && r.seed === s)?.testAccuracy;
  for (const seed of seeds) {
    const values = optimizers.map((o) => acc(o, seed));
    if (values.every((v) => v === undefined)) continue;
    const diff = d && acc(d.a, seed) !== undefined && acc(d.b, seed) !== undefined ? acc(d.a, seed)! - acc(d.b, seed)! : undefined;
    rows.push([String(seed), ...values.map(pct), ...(d ? [pts(diff)] : [])]);
  }
  const stat = (label: string, f: (s: SampleSummary) => string, fd: (s: SampleSummary) => string) =>
    rows.push([label, ...optimizers.map((o) => f(summary.optimizers[o])), ...(d ? [fd(d)] : [])]);
  rows.push(head.map(() => ''));
  stat('n', (s) => String(s.n), (s) => String(s.n));
  stat('mean', (s) => pct(s.mean), (s) => pts(s.mean));
  stat('std', (s) => (s.std === null ? '-' : `${(100 * s.std).toFixed(2)}`), (s) => (s.std === null ? '-' : `${(100 * s.std).toFixed(2)}`));
  stat('95% CI', (s) => interval(s, (x) => pct(x)), (s) => interval(s, (x) => pts(x)));
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('   ').trimEnd()).join('\n');
}
