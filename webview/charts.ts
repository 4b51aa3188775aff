// The dashboard's charts, created once. Datasets hold references to each run's series (RunData); a draw
// only rebuilds the dataset list when the set of shown runs changes, otherwise it re-points the data and
// calls `update('none')` (no animation, no re-creation).
import type { ChartDataset, ChartOptions } from 'chart.js';
import { Chart, isReleased, markerPlugin, releaseChart, stepChartOptions, untilReleased, type DrawnMarker, type MarkerLayer } from './chartKit';
import { LAYER_PALETTE, withAlpha } from './colors';
import { formatNumber, markersFromApplied } from './markers';
import type { RunData } from './runData';
import type { XY } from './series';

export interface ShownRun {
  data: RunData;
  color: string;
  primary: boolean;
  /** `data` is the run's full detail for the zoomed steps (from the run store), not its summary. */
  detail?: boolean;
}

type LineDataset = ChartDataset<'line', XY[]> & { tooltip?: boolean };

export interface ChartCanvases {
  loss: HTMLCanvasElement;
  accuracy: HTMLCanvasElement;
  testAccuracy: HTMLCanvasElement;
  learningRate: HTMLCanvasElement;
  samplesPerSec: HTMLCanvasElement;
  updateRatio: HTMLCanvasElement;
}

const percent = (v: number | string) => `${formatNumber(Number(v) * 100)}%`;

/** No point, no marker and no legend entry: what a chart shows before any run's data is in it. */
function showsNothing(c: Chart<'line', XY[]>, layer: MarkerLayer | undefined): boolean {
  const legend = (c.options.plugins as { legend?: { display?: boolean } } | undefined)?.legend?.display === true;
  return c.data.datasets.every((d) => d.data.length === 0) && !(legend && c.data.datasets.length > 0) && (layer?.markers.length ?? 0) === 0;
}

export class DashboardCharts {
  private readonly loss: Chart<'line', XY[]>;
  private readonly accuracy: Chart<'line', XY[]>;
  private readonly testAccuracy: Chart<'line', XY[]>;
  private readonly learningRate: Chart<'line', XY[]>;
  private readonly samplesPerSec: Chart<'line', XY[]>;
  private readonly updateRatio: Chart<'line', XY[]>;
  private readonly layers = new Map<Chart, MarkerLayer>();
  private structureKey = '';
  private syncing = false;
  private pickedStep?: number;
  private pointerDown?: { x: number; y: number };
  private shown: ShownRun[] = [];
  /** Charts in view (IntersectionObserver); the others are not drawn, and are marked stale until they are. */
  private readonly inView = new Set<Element>();
  private readonly stale = new Set<Chart<'line', XY[]>>();

  constructor(
    canvases: ChartCanvases,
    private readonly onPickStep: (step: number) => void,
    private readonly onShown: () => void = () => {},
    /** The step charts were zoomed or panned to these steps, or back to the whole run (undefined). */
    private readonly onRange: (range: { min: number; max: number } | undefined) => void = () => {},
  ) {
    const hooks = { onZoomed: (c: Chart) => this.syncZoom(c) };
    this.loss = this.stepChart(canvases.loss, stepChartOptions('training loss', hooks), true);
    this.accuracy = this.stepChart(canvases.accuracy, stepChartOptions('training accuracy', hooks, { min: 0, max: 1, ticks: { callback: percent, maxTicksLimit: 6 } }), false);
    this.learningRate = this.stepChart(canvases.learningRate, stepChartOptions('learning rate', hooks, { beginAtZero: true, grace: '12%' }), true);
    this.samplesPerSec = this.stepChart(canvases.samplesPerSec, stepChartOptions('samples / s', hooks, { beginAtZero: true }), false);
    this.updateRatio = this.stepChart(canvases.updateRatio, stepChartOptions('RMS step / lr', hooks, { beginAtZero: true, suggestedMax: 1.2 }), false, {
      markers: [],
      showLabels: false,
      referenceY: { value: 1, label: 'step = lr', color: '#888' },
    });
    (this.updateRatio.options.plugins as Record<string, unknown>).legend = { display: true, position: 'bottom', labels: { boxWidth: 12, boxHeight: 2 } };

    this.testAccuracy = new Chart(canvases.testAccuracy, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        elements: { point: { radius: 3 }, line: { borderWidth: 2 } },
        scales: {
          x: { type: 'linear', min: 0, suggestedMax: 2, title: { display: true, text: 'epoch' }, ticks: { stepSize: 1, precision: 0, callback: (v) => formatNumber(Number(v)) } }, // not Chart.js's Intl formatter: webview/text.ts
          y: { type: 'linear', min: 0, suggestedMax: 0.7, title: { display: true, text: 'test accuracy' }, ticks: { callback: percent } },
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { title: (items) => (items.length ? `epoch ${formatNumber(items[0].parsed.x ?? NaN)}` : ''), label: (i) => `${i.dataset.label}: ${percent(i.parsed.y ?? NaN)}` } },
        },
      } as ChartOptions<'line'>,
      plugins: [untilReleased],
    });

    this.watchVisibility();

    // A click (not the end of a pan) on the loss chart picks the step to fork from.
    canvases.loss.addEventListener('pointerdown', (e) => (this.pointerDown = { x: e.clientX, y: e.clientY }));
    this.loss.options.onClick = (event, _elements, chart) => {
      const native = event.native as PointerEvent | null;
      if (native && this.pointerDown && Math.hypot(native.clientX - this.pointerDown.x, native.clientY - this.pointerDown.y) > 5) return;
      const area = chart.chartArea;
      if (event.x === null || event.y === null || event.x < area.left || event.x > area.right || event.y < area.top || event.y > area.bottom) return;
      const step = chart.scales.x.getValueForPixel(event.x);
      if (step !== undefined) this.onPickStep(step);
    };
  }

  /** A chart scrolled out of view (or in a collapsed card, or a hidden panel) costs nothing until it is seen. */
  private watchVisibility(): void {
    if (typeof IntersectionObserver === 'undefined') {
      for (const c of this.allCharts) this.inView.add(c.canvas);
      return;
    }
    const observer = new IntersectionObserver((entries) => {
      let shownStale = false;
      for (const e of entries) {
        if (e.isIntersecting) this.inView.add(e.target);
        else this.inView.delete(e.target);
        if (e.isIntersecting && [...this.stale].some((c) => c.canvas === e.target)) shownStale = true;
      }
      if (shownStale) this.onShown();
    });
    for (const c of this.allCharts) observer.observe(c.canvas);
  }

  private stepChart(canvas: HTMLCanvasElement, options: ChartOptions<'line'>, showLabels: boolean, layer?: MarkerLayer): Chart<'line', XY[]> {
    const markers: MarkerLayer = layer ?? { markers: [], showLabels };
    const chart = new Chart<'line', XY[]>(canvas, { type: 'line', data: { datasets: [] }, options, plugins: [untilReleased, markerPlugin(markers)] });
    this.layers.set(chart as unknown as Chart, markers);
    return chart;
  }

  private get stepCharts(): Chart<'line', XY[]>[] {
    return [this.loss, this.accuracy, this.learningRate, this.samplesPerSec, this.updateRatio];
  }

  private get allCharts(): Chart<'line', XY[]>[] {
    return [...this.stepCharts, this.testAccuracy];
  }

  /** Zooming or panning one step chart moves all of them, so the curves stay aligned by step. */
  private syncZoom(source: Chart): void {
    if (this.syncing) return;
    this.syncing = true;
    const { min, max } = source.scales.x;
    for (const c of this.stepCharts) {
      if ((c as unknown as Chart) === source) continue;
      this.layOut(c); // a chart never drawn (out of view since the page opened) has no scale to zoom yet
      c.zoomScale('x', { min, max }, 'none');
    }
    this.syncing = false;
    this.describe(this.shown.find((s) => s.primary)?.data);
    this.onRange((source as unknown as { isZoomedOrPanned(): boolean }).isZoomedOrPanned() ? { min, max } : undefined);
  }

  /** Lays out a chart the dashboard has not drawn yet (charts draw nothing before: chartKit's untilReleased). */
  private layOut(c: Chart<'line', XY[]>): void {
    if (isReleased(c)) return;
    releaseChart(c);
    c.update('none');
  }

  resetZoom(): void {
    // resetZoom calls onZoomComplete: without this guard each reset chart would pin the others to the
    // range it shows at that moment, and the curves would stop growing.
    this.syncing = true;
    for (const c of this.stepCharts) if (isReleased(c)) c.resetZoom('none'); // one never drawn was never zoomed
    this.syncing = false;
    this.describe(this.shown.find((s) => s.primary)?.data);
    this.onRange(undefined);
  }

  setLogLoss(log: boolean): void {
    const y = this.loss.options.scales!.y!;
    const type = log ? 'logarithmic' : 'linear';
    if (y.type === type) return;
    y.type = type;
    this.loss.update('none');
  }

  setPickedStep(step: number | undefined): void {
    this.pickedStep = step;
    this.draw(this.shown);
  }

  /** Re-reads theme colours (VS Code theme switch). */
  restyle(): void {
    this.structureKey = '';
    this.drewBlank.clear();
    for (const c of this.allCharts) {
      const scales = c.options.scales as Record<string, { ticks?: { color?: string }; grid?: { color?: string }; title?: { color?: string } }>;
      for (const s of Object.values(scales)) {
        if (s.ticks) s.ticks.color = Chart.defaults.color as string;
        if (s.grid) s.grid.color = Chart.defaults.borderColor as string;
        if (s.title) s.title.color = Chart.defaults.color as string;
      }
    }
    this.draw(this.shown);
  }

  /**
   * `awaiting`: a run to be shown has its history on the way. Charts that would show nothing are then not drawn yet
   * (they are blank until they have something to show).
   */
  draw(shown: ShownRun[], awaiting = false): void {
    this.shown = shown;
    const primary = shown.find((s) => s.primary);
    const layerNames = primary ? [...primary.data.updateRatio.keys()] : [];
    const key = JSON.stringify([shown.map((s) => [s.data.runId, s.primary, s.detail === true]), layerNames]);
    if (key !== this.structureKey) {
      this.structureKey = key;
      this.rebuild(shown, layerNames);
    } else {
      // Same datasets: re-point data at a copy of each series as it is now (see rebuild's `line`).
      for (const c of this.allCharts) for (const ds of c.data.datasets) ds.data = (ds as unknown as { source: XY[] }).source.slice();
    }
    this.updateMarkers(shown);
    // Charts that show nothing are drawn (empty axes) once, and not while a run's history is on the way: a page that
    // just connected lays its charts out with the history in them, not once empty before it (60 ms).
    const blank = this.allCharts.every((c) => showsNothing(c, this.layers.get(c as unknown as Chart)));
    if (!(blank && awaiting)) {
      for (const c of this.allCharts) {
        if (!this.inView.has(c.canvas)) {
          this.stale.add(c);
          continue;
        }
        this.stale.delete(c);
        if (blank && this.drewBlank.has(c)) continue;
        releaseChart(c);
        c.update('none');
        if (blank) this.drewBlank.add(c);
        else this.drewBlank.delete(c);
      }
    }
    this.describe(primary?.data);
    if (!this.drewRun && (primary?.data.loss.raw.length ?? 0) > 0) {
      this.drewRun = true;
      performance.mark('adam:first-draw'); // bench/page.mjs: when a run's charts were first drawn
    }
  }

  private drewRun = false;
  /** The charts whose last update showed nothing: not laid out again while there is still nothing to show. */
  private readonly drewBlank = new Set<Chart<'line', XY[]>>();

  /** What each canvas shows, as data attributes: for tests and tools that cannot read pixels. */
  private describe(run: RunData | undefined): void {
    const set = (c: Chart<'line', XY[]>, points: XY[] | undefined) => {
      const last = points?.[points.length - 1];
      const x = c.scales.x;
      Object.assign(c.canvas.dataset, { points: String(points?.length ?? 0), lastX: last ? String(last.x) : '', lastY: last ? String(last.y) : '', xMin: String(x?.min ?? ''), xMax: String(x?.max ?? '') });
    };
    set(this.loss, run?.loss.raw);
    set(this.accuracy, run?.accuracy.raw);
    set(this.learningRate, run?.learningRate.raw);
    const planned = run?.plannedLearningRate ?? [];
    Object.assign(this.learningRate.canvas.dataset, {
      plannedPoints: String(planned.length),
      plannedFirst: planned.length ? `${planned[0].x}:${planned[0].y}` : '',
      plannedLast: planned.length ? `${planned[planned.length - 1].x}:${planned[planned.length - 1].y}` : '',
      plannedDash: String(this.learningRate.data.datasets.some((d) => Array.isArray((d as { borderDash?: number[] }).borderDash) && d.data.length > 0)),
    });
    set(this.samplesPerSec, run?.samplesPerSec.raw);
    set(this.testAccuracy, run?.testAccuracy);
    set(this.updateRatio, run ? [...run.updateRatio.values()][0]?.raw : undefined);
    this.loss.canvas.dataset.markers = (this.layers.get(this.loss as unknown as Chart)?.markers ?? []).map((m) => `${m.step}:${m.label ?? ''}`).join('|');
  }

  private rebuild(shown: ShownRun[], layerNames: string[]): void {
    // Chart.js is given a copy of each series, made at each draw, never the series' own array: it hooks the push
    // and splice of the arrays it is given and builds and lays out chart elements on every call, so handing it the
    // live arrays cost a chart update per point received (as much page time as the draws themselves while a run
    // trains, and 140 ms of loading a long run's history). A copy of 1,024 references per series is microseconds.
    const line = (label: string, source: XY[], extra: Partial<LineDataset>): LineDataset =>
      ({ label, data: source.slice(), source, ...extra }) as LineDataset;
    // Overlays first so the primary run is drawn on top.
    const ordered = [...shown].sort((a, b) => Number(a.primary) - Number(b.primary));

    this.loss.data.datasets = ordered.flatMap(({ data: r, color, primary }) => [
      ...(primary
        ? [
            line(`${r.runId} max`, r.lossMax, { borderWidth: 0, backgroundColor: withAlpha(color, 0.13), fill: '+1', tooltip: false, pointHoverRadius: 0, pointHitRadius: 0 }),
            line(`${r.runId} min`, r.lossMin, { borderWidth: 0, fill: false, tooltip: false, pointHoverRadius: 0, pointHitRadius: 0 }),
          ]
        : []),
      line(`${r.runId} loss`, r.loss.raw, { borderColor: withAlpha(color, 0.35), borderWidth: 1 }),
      line(`${r.runId} smoothed`, r.loss.smoothed, { borderColor: color, borderWidth: primary ? 2 : 1.5 }),
    ]);
    this.accuracy.data.datasets = ordered.flatMap(({ data: r, color, primary }) => [
      line(`${r.runId} accuracy`, r.accuracy.raw, { borderColor: withAlpha(color, 0.35), borderWidth: 1 }),
      line(`${r.runId} smoothed`, r.accuracy.smoothed, { borderColor: color, borderWidth: primary ? 2 : 1.5 }),
    ]);
    this.learningRate.data.datasets = ordered.flatMap(({ data: r, color }) => [
      line(`${r.runId} lr`, r.learningRate.raw, { borderColor: color, stepped: 'before' }),
      // The whole planned schedule, ahead of the run, dashed (redrawn from the step of each edit).
      line(`${r.runId} planned lr`, r.plannedLearningRate, { borderColor: withAlpha(color, 0.7), borderWidth: 1.5, borderDash: [6, 4], pointRadius: 0, tooltip: false }),
    ]);
    this.samplesPerSec.data.datasets = ordered.flatMap(({ data: r, color }) => [
      line(`${r.runId}`, r.samplesPerSec.raw, { borderColor: withAlpha(color, 0.3), borderWidth: 1 }),
      line(`${r.runId} smoothed`, r.samplesPerSec.smoothed, { borderColor: color }),
    ]);
    this.testAccuracy.data.datasets = ordered.map(({ data: r, color }) => line(`${r.runId}`, r.testAccuracy, { borderColor: color, backgroundColor: color }));
    const primary = shown.find((s) => s.primary);
    this.updateRatio.data.datasets = primary
      ? layerNames.map((name, i) => line(name, primary.data.updateRatio.get(name)!.raw, { borderColor: LAYER_PALETTE[i % LAYER_PALETTE.length], backgroundColor: LAYER_PALETTE[i % LAYER_PALETTE.length] }))
      : [];
  }

  private updateMarkers(shown: ShownRun[]): void {
    const markers: DrawnMarker[] = shown.flatMap(({ data, color }) => markersFromApplied(data.applied).map((m) => ({ step: m.step, label: m.label, color })));
    if (this.pickedStep !== undefined) markers.push({ step: this.pickedStep, label: `fork from step ${this.pickedStep}`, color: Chart.defaults.color as string, dashed: true });
    for (const layer of this.layers.values()) layer.markers = markers;
  }
}
