// "What each parameter's step is": per layer, two heatmaps over the run (webview/heatmap.ts) of the sidecar's step
// histograms (sidecar/optim/stepHistogram.ts): |m̂/(√v̂+ε)|, Adam's step over lr parameter by parameter, with its
// trust-region bound 1; and |update|/|parameter| with the 1e-3 guide line practitioners use. A collapsed section
// costs nothing: it draws only while open, and only what changed since it last drew.
import { UPDATE_RATIO_GUIDE } from '../../sidecar/optim/stepBins';
import { LAYER_NAMES } from '../../sidecar/nn/spec';
import { readTheme } from '../chartKit';
import { h, setText } from '../dom';
import { drawHeatmap, type HeatmapKind } from '../heatmap';
import type { RunData } from '../runData';
import { thousands } from '../text';

const KINDS: Array<{ kind: HeatmapKind; title: string; guide: { log10: number; label: string } }> = [
  { kind: 'effectiveStep', title: '|m̂ / (√v̂ + ε)| = |step| / lr', guide: { log10: 0, label: '1: the trust region' } },
  { kind: 'updateRatio', title: '|update| / |parameter|', guide: { log10: Math.log10(UPDATE_RATIO_GUIDE), label: '1e-3' } },
];

export class StepHeatmaps {
  readonly element: HTMLDetailsElement;
  private readonly canvases = new Map<string, HTMLCanvasElement>();
  private readonly note: HTMLElement;
  private run: RunData | undefined;
  private drawn = '';
  /** How many times it drew (the browser test checks a collapsed section draws nothing). */
  draws = 0;

  constructor() {
    this.note = h('p', { class: 'caption', id: 'step-heatmaps-note' });
    const grid = h('div', { class: 'heatmap-grid' }, h('div'), ...KINDS.map((k) => h('div', { class: 'heatmap-head' }, k.title)));
    for (const layer of LAYER_NAMES) {
      grid.append(h('div', { class: 'heatmap-layer' }, layer));
      for (const k of KINDS) {
        const canvas = h('canvas', { id: `heatmap-${layer}-${k.kind}`, class: 'heatmap', role: 'img', 'aria-label': `${layer}: ${k.title} over steps` });
        this.canvases.set(`${layer}/${k.kind}`, canvas);
        grid.append(canvas);
      }
    }
    this.element = h(
      'details',
      { class: 'card step-heatmaps', id: 'step-heatmaps' },
      h('summary', {}, h('h2', { class: 'inline-title' }, 'What each parameter’s step is')),
      this.note,
      grid,
    );
    this.element.addEventListener('toggle', () => this.update(this.run));
  }

  update(run: RunData | undefined): void {
    this.run = run;
    if (!this.element.open) return;
    const key = run ? `${run.runId}/${run.stepHistograms.version}/${run.config.optimizer}` : '';
    if (key === this.drawn) return;
    this.drawn = key;
    this.draws++;
    this.element.dataset.draws = String(this.draws);
    const columns = run?.stepHistograms.columns ?? [];
    const sgd = run?.config.optimizer === 'sgd';
    setText(
      this.note,
      !run
        ? 'Open a run to see its step histograms.'
        : !columns.length
          ? 'The first histograms come a few hundred steps into the run (SGD without momentum has none: its update is not kept).'
          : `${columns.length} columns up to step ${thousands(columns[columns.length - 1].step)}, sampled within 1% of the training time; colour is the share of the layer’s parameters in each bin.` +
            (sgd ? ' SGD has no m̂/√v̂: its step is lr times the momentum buffer, with no bound, so only the update ratio is shown.' : ''),
    );
    const theme = readTheme();
    for (const layer of LAYER_NAMES) {
      for (const k of KINDS) {
        const canvas = this.canvases.get(`${layer}/${k.kind}`)!;
        canvas.hidden = sgd && k.kind === 'effectiveStep';
        if (canvas.hidden) continue;
        const cells = drawHeatmap(canvas, columns, { layer, kind: k.kind, guide: k.guide, theme });
        canvas.dataset.columns = String(columns.length);
        canvas.dataset.cells = String(cells);
      }
    }
  }
}
