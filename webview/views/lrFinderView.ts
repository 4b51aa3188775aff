// "Find learning rate": the range test (sidecar/lrFinder.ts) beside the open run, never touching it. The sidecar
// runs it from the run's data, batch and seed on a fresh net; this view asks for it (Adam and SGD, or the run's own
// optimizer with them), draws each optimizer's loss against lr on a log axis (raw faint, smoothed bold, the
// suggestion as a point) and offers "Use this lr", which sends a normal lr edit to the run.
import type { LiveHyperparameters, OptimizerName, ServerMessage } from '../../sidecar/protocol';
import { Chart } from '../chartKit';
import { RUN_PALETTE, withAlpha } from '../colors';
import { h, setText } from '../dom';
import { formatNumber } from '../markers';
import type { RunData } from '../runData';

type Found = Extract<ServerMessage, { type: 'lrFound' }>;

export interface LrFinderActions {
  /** Sends the request; returns its id, or undefined when it could not be sent. */
  find(runId: string, optimizers: OptimizerName[]): string | undefined;
  apply(runId: string, changes: LiveHyperparameters): void;
}

const COLORS: Record<string, string> = { adam: RUN_PALETTE[0], sgd: RUN_PALETTE[1], adamw: RUN_PALETTE[2], amsgrad: RUN_PALETTE[4] };

export class LrFinderView {
  readonly element: HTMLElement;
  private readonly findButton: HTMLButtonElement;
  private readonly useButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private chart?: Chart<'line', Array<{ x: number; y: number }>>;
  private run?: RunData;
  private connected = false;
  private requestId?: string;
  private asked: OptimizerName[] = [];
  private readonly found: Found[] = [];

  constructor(private readonly actions: LrFinderActions) {
    this.findButton = h('button', { id: 'find-lr', type: 'button', title: 'A learning-rate range test beside this run (it is not touched)' }, 'Find learning rate');
    this.findButton.addEventListener('click', () => this.onFind());
    this.useButton = h('button', { id: 'use-lr', class: 'primary', type: 'button', hidden: true }, 'Use this lr');
    this.useButton.addEventListener('click', () => this.onUse());
    this.status = h('div', { id: 'lr-find-status', class: 'form-status', role: 'status' });
    this.canvas = h('canvas', { id: 'chart-lrFind', 'aria-label': 'loss against learning rate, log scale', role: 'img' });
    this.element = h(
      'section',
      { class: 'card form-card', id: 'lr-find-card', 'aria-labelledby': 'lr-find-title' },
      h('h2', { id: 'lr-find-title' }, 'Learning-rate range test'),
      h('p', { class: 'hint' }, 'Trains a fresh net of this run\'s seed on its data, one step per lr from 1e-7 to 1, and suggests where the smoothed loss falls fastest. The run trains on untouched.'),
      h('div', { class: 'actions' }, this.findButton, this.useButton),
      this.status,
      h('div', { class: 'chart-box', hidden: true, id: 'lr-find-chart' }, this.canvas),
    );
    this.refresh();
  }

  setRun(run: RunData | undefined, connected: boolean): void {
    if (run?.runId !== this.run?.runId) this.reset();
    this.run = run;
    this.connected = connected;
    this.refresh();
  }

  /** An `lrFound` for our request: drawn beside the others. */
  handleFound(m: Found): boolean {
    if (m.requestId === undefined || String(m.requestId) !== this.requestId) return false;
    this.found.push(m);
    const done = this.found.length >= this.asked.length;
    if (done) this.requestId = undefined;
    this.draw();
    const mine = this.suggestionForRun();
    setText(this.status, this.found.map((f) => `${f.optimizer}: ${f.learningRate === null ? 'too few steps to suggest' : `suggests ${formatNumber(f.learningRate)}`}${f.diverged ? ` (diverged at ${formatNumber(f.points[f.points.length - 1]?.learningRate ?? NaN)})` : ''}`).join('; ') + (done ? '' : '; testing…'));
    this.status.className = `form-status ${done ? 'ok' : 'pending'}`;
    if (mine !== undefined) {
      this.useButton.hidden = false;
      setText(this.useButton, `Use this lr (${formatNumber(mine)})`);
    }
    this.refresh();
    return true;
  }

  /** An `error` for our request. */
  handleError(m: Extract<ServerMessage, { type: 'error' }>): boolean {
    if (m.requestId === undefined || String(m.requestId) !== this.requestId) return false;
    this.requestId = undefined;
    setText(this.status, m.message);
    this.status.className = 'form-status error';
    this.refresh();
    return true;
  }

  private reset(): void {
    this.found.length = 0;
    this.requestId = undefined;
    this.useButton.hidden = true;
    setText(this.status, '');
    this.chart?.destroy();
    this.chart = undefined;
    (this.canvas.parentElement as HTMLElement).hidden = true;
  }

  private onFind(): void {
    if (!this.run) return;
    this.reset();
    // Adam and SGD overlaid, the run's own optimizer among them.
    this.asked = [...new Set<OptimizerName>([this.run.config.optimizer, 'adam', 'sgd'])];
    this.requestId = this.actions.find(this.run.runId, this.asked);
    if (this.requestId) {
      setText(this.status, `Testing ${this.asked.join(' and ')} beside ${this.run.runId}…`);
      this.status.className = 'form-status pending';
    }
    this.refresh();
  }

  /** The suggestion for the run's own optimizer: what "Use this lr" sends. */
  private suggestionForRun(): number | undefined {
    const f = this.found.find((x) => x.optimizer === this.run?.config.optimizer);
    return f?.learningRate ?? undefined;
  }

  private onUse(): void {
    const lr = this.suggestionForRun();
    if (!this.run || lr === undefined) return;
    // Under onecycle the schedule's peak is maxLearningRate (its lr follows it): the suggestion sets the peak.
    const field = this.run.config.schedule === 'onecycle' ? 'maxLearningRate' : 'learningRate';
    this.actions.apply(this.run.runId, { [field]: Math.min(1, lr) });
  }

  private refresh(): void {
    this.findButton.disabled = !this.connected || !this.run || this.requestId !== undefined;
    this.useButton.disabled = !this.connected || !this.run || this.suggestionForRun() === undefined;
  }

  private draw(): void {
    (this.canvas.parentElement as HTMLElement).hidden = false;
    const datasets = this.found.flatMap((f) => {
      const color = COLORS[f.optimizer] ?? RUN_PALETTE[5];
      const raw = f.points.map((p) => ({ x: p.learningRate, y: p.loss }));
      const smoothed = f.points.map((p) => ({ x: p.learningRate, y: p.smoothedLoss }));
      const at = f.points.find((p) => p.learningRate === f.learningRate);
      return [
        { label: `${f.optimizer} loss`, data: raw, borderColor: withAlpha(color, 0.3), borderWidth: 1, pointRadius: 0 },
        { label: `${f.optimizer} smoothed`, data: smoothed, borderColor: color, borderWidth: 2, pointRadius: 0 },
        ...(at ? [{ label: `${f.optimizer} suggestion ${formatNumber(at.learningRate)}`, data: [{ x: at.learningRate, y: at.smoothedLoss }], borderColor: color, backgroundColor: color, pointRadius: 5, showLine: false }] : []),
      ];
    });
    if (!this.chart) {
      this.chart = new Chart(this.canvas, {
        type: 'line',
        data: { datasets },
        options: {
          animation: false,
          parsing: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: {
            x: {
              type: 'logarithmic',
              title: { display: true, text: 'learning rate (log)' },
              // Powers of ten only: the log axis's minor ticks would crowd the labels.
              ticks: { maxRotation: 0, callback: (v) => (Math.abs(Math.log10(Number(v)) - Math.round(Math.log10(Number(v)))) < 1e-9 ? formatNumber(Number(v)) : '') },
            },
            y: { type: 'linear', title: { display: true, text: 'training loss' } },
          },
          plugins: { legend: { display: true, labels: { boxWidth: 12 } } },
        },
      });
    } else {
      this.chart.data.datasets = datasets;
      this.chart.update('none');
    }
    Object.assign(this.canvas.dataset, {
      optimizers: this.found.map((f) => f.optimizer).join(','),
      points: this.found.map((f) => f.points.length).join(','),
      xScale: String(this.chart.options.scales?.x?.type ?? ''),
      suggestions: this.found.map((f) => `${f.optimizer}:${f.learningRate}`).join(','),
    });
  }
}
