// The chart cards and their controls: smoothing, log/linear loss axis, reset zoom, and the captions that
// say what each chart shows.
import { DashboardCharts, type ChartCanvases, type ShownRun } from '../charts';
import { h, setText } from '../dom';

export interface ChartsViewActions {
  smoothingChanged(weight: number): void;
  logLossChanged(log: boolean): void;
  stepPicked(step: number): void;
  /** A chart that was out of view, and has changed since it was drawn, came into view. */
  chartShown(): void;
  /** The step charts show these steps (zoomed or panned), or the whole run (undefined). */
  rangeShown(range: { min: number; max: number } | undefined): void;
}

function card(id: string, title: string, canvas: HTMLCanvasElement, caption?: string, extra?: HTMLElement, wide = false): HTMLElement {
  return h(
    'section',
    { class: `card chart-card${wide ? ' wide' : ''}`, id: `card-${id}`, 'aria-label': title },
    h('div', { class: 'card-head' }, h('h2', {}, title), extra),
    h('div', { class: 'chart-box' }, canvas),
    caption ? h('p', { class: 'caption' }, caption) : null,
  );
}

export class ChartsView {
  readonly element: HTMLElement;
  readonly charts: DashboardCharts;
  private readonly smoothing: HTMLInputElement;
  private readonly smoothingValue: HTMLElement;
  private readonly logLoss: HTMLInputElement;
  private readonly legend: HTMLElement;

  constructor(actions: ChartsViewActions, initial: { smoothing: number; logLoss: boolean }) {
    const canvas = (id: string, label: string) => h('canvas', { id: `chart-${id}`, role: 'img', 'aria-label': label });
    const canvases: ChartCanvases = {
      loss: canvas('loss', 'training loss per step'),
      accuracy: canvas('accuracy', 'training accuracy per step'),
      testAccuracy: canvas('testAccuracy', 'test accuracy per epoch'),
      learningRate: canvas('learningRate', 'learning rate per step'),
      samplesPerSec: canvas('samplesPerSec', 'training samples per second'),
      updateRatio: canvas('updateRatio', 'per-layer RMS step divided by the learning rate'),
    };

    this.smoothing = h('input', { id: 'smoothing', type: 'range', min: 0, max: 0.99, step: 0.01, value: initial.smoothing, 'aria-label': 'smoothing' });
    this.smoothingValue = h('span', { class: 'slider-value' }, initial.smoothing.toFixed(2));
    this.smoothing.addEventListener('input', () => {
      const w = Number(this.smoothing.value);
      setText(this.smoothingValue, w.toFixed(2));
      actions.smoothingChanged(w);
    });
    this.logLoss = h('input', { id: 'log-loss', type: 'checkbox', checked: initial.logLoss });
    this.logLoss.addEventListener('change', () => actions.logLossChanged(this.logLoss.checked));
    const reset = h('button', { id: 'reset-zoom', type: 'button', title: 'show all steps' }, 'Reset zoom');
    reset.addEventListener('click', () => this.charts.resetZoom());
    this.legend = h('div', { class: 'legend', id: 'legend' });

    const controls = h(
      'div',
      { class: 'chart-controls' },
      h('label', { class: 'inline' }, 'smoothing', this.smoothing, this.smoothingValue),
      h('label', { class: 'inline' }, this.logLoss, 'log scale'),
      reset,
    );

    this.element = h(
      'div',
      { class: 'charts' },
      h('div', { class: 'charts-bar' }, this.legend, h('span', { class: 'hint' }, 'Ctrl+wheel or Shift+drag zooms the steps, drag pans; click the loss curve to pick a step to fork from.')),
      card('loss', 'Training loss', canvases.loss, 'Mean loss of the steps each point covers (faint), smoothed (bold), and the band between the lowest and highest step loss. Vertical lines: hyperparameter changes.', controls, true),
      card('accuracy', 'Training accuracy', canvases.accuracy),
      card('testAccuracy', 'Test accuracy', canvases.testAccuracy, 'On the whole test set, after each epoch.'),
      card('learningRate', 'Learning rate', canvases.learningRate),
      card('samplesPerSec', 'Samples per second', canvases.samplesPerSec, 'Training steps only.'),
      card(
        'updateRatio',
        "Adam's trust region",
        canvases.updateRatio,
        'Per layer, the RMS of the parameter step divided by lr. Adam divides m̂ by √v̂, so a step stays within about lr whatever the gradient scale: the lines sit at or below 1 (dashed). SGD has no such bound.',
        undefined,
        true,
      ),
    );
    this.charts = new DashboardCharts(canvases, (step) => actions.stepPicked(step), () => actions.chartShown(), (range) => actions.rangeShown(range));
    this.charts.setLogLoss(initial.logLoss);
  }

  updateLegend(shown: ShownRun[]): void {
    this.legend.replaceChildren(
      ...shown.map((s) => {
        const swatch = h('span', { class: 'swatch' });
        swatch.style.background = s.color;
        return h('span', { class: `legend-item${s.primary ? ' primary' : ''}` }, swatch, `${s.data.runId} (${s.data.config.optimizer})`);
      }),
    );
  }
}
