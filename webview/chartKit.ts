// chart.js set up once: only the pieces the dashboard uses (tree-shaken), the zoom plugin, and two small
// drawing plugins of our own: vertical markers for hyperparameter changes (and the picked fork step) and a
// horizontal reference line (the trust-region chart's 1.0).
import {
  Chart,
  Decimation,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartOptions,
  type Plugin,
} from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import { MIN_MAX_DECIMATION } from './series';
import { formatNumber } from './markers';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Filler, Legend, Tooltip, Decimation, zoomPlugin);

export { Chart };

export interface Theme {
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  fontFamily: string;
}

export function readTheme(root: HTMLElement = document.body): Theme {
  const s = getComputedStyle(root);
  const v = (name: string, fallback: string) => s.getPropertyValue(name).trim() || fallback;
  return {
    foreground: v('--fg', '#1f2328'),
    muted: v('--muted', '#656d76'),
    grid: v('--grid', 'rgba(128,128,128,0.18)'),
    background: v('--bg', '#ffffff'),
    fontFamily: v('--font', 'system-ui, sans-serif'),
  };
}

let currentTheme: Theme | undefined;

export function applyTheme(theme: Theme): void {
  currentTheme = theme;
  Chart.defaults.color = theme.muted;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = 11;
}

// ---------------------------------------------------------------------------------------------------
// Drawn when the dashboard draws: not before.

const released = new WeakSet<object>();

/**
 * Chart.js lays a chart out and draws it as soon as its canvas is attached to the page (and again at each resize),
 * which for a page opening a run is before its history has arrived: six empty charts laid out and drawn, 110 ms of
 * the 167 that attaching them took in a profile of bench/page.mjs's open (the rest is the page's first style
 * recalculation, paid wherever it falls). With this plugin a chart does nothing of its own (no update, no render, no
 * event) until `releaseChart`, which the dashboard calls as it first draws the chart.
 */
export const untilReleased: Plugin<'line'> = {
  id: 'adamUntilReleased',
  beforeUpdate: (chart) => released.has(chart),
  beforeRender: (chart) => released.has(chart),
  beforeEvent: (chart) => released.has(chart),
};

export function releaseChart(chart: object): void {
  released.add(chart);
}

export function isReleased(chart: object): boolean {
  return released.has(chart);
}

// ---------------------------------------------------------------------------------------------------
// Markers: one vertical line per `applied` change, labelled "lr 0.001 → 0.003", and the fork step.

export interface DrawnMarker {
  step: number;
  label?: string;
  color: string;
  dashed?: boolean;
}

export interface MarkerLayer {
  markers: DrawnMarker[];
  showLabels: boolean;
  /** A horizontal reference line (the trust-region chart's 1.0). */
  referenceY?: { value: number; label: string; color: string };
}

export function markerPlugin(layer: MarkerLayer): Plugin<'line'> {
  return {
    id: 'adamMarkers',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea: area, scales } = chart;
      const x = scales.x;
      const y = scales.y;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top - 1, area.right - area.left, area.bottom - area.top + 2);
      ctx.clip();
      ctx.font = `10px ${Chart.defaults.font.family}`;
      ctx.textBaseline = 'top';
      if (layer.referenceY && y) {
        const py = y.getPixelForValue(layer.referenceY.value);
        if (py >= area.top && py <= area.bottom) {
          ctx.strokeStyle = layer.referenceY.color;
          ctx.setLineDash([6, 4]);
          ctx.lineWidth = 1;
          ctx.beginPath();
          ctx.moveTo(area.left, py);
          ctx.lineTo(area.right, py);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillStyle = layer.referenceY.color;
          ctx.textAlign = 'right';
          ctx.fillText(layer.referenceY.label, area.right - 4, py + 3);
        }
      }
      let row = 0;
      for (const m of layer.markers) {
        const px = x.getPixelForValue(m.step);
        if (px < area.left || px > area.right) continue;
        ctx.strokeStyle = m.color;
        ctx.lineWidth = 1;
        ctx.setLineDash(m.dashed ? [4, 3] : []);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        if (layer.showLabels && m.label) {
          // Labels stagger over three rows so changes close together stay readable.
          const ty = area.top + 3 + (row++ % 3) * 14;
          const width = ctx.measureText(m.label).width;
          const right = px + 4 + width + 4 > area.right;
          const tx = right ? px - 4 - width : px + 4;
          ctx.globalAlpha = 0.85;
          ctx.fillStyle = currentTheme?.background ?? '#ffffff';
          ctx.fillRect(tx - 2, ty - 1, width + 4, 13);
          ctx.globalAlpha = 1;
          // The line carries the run's colour; the text is in the theme's foreground, readable on any run colour.
          ctx.fillStyle = currentTheme?.foreground ?? m.color;
          ctx.textAlign = 'left';
          ctx.fillText(m.label, tx, ty);
        }
      }
      ctx.restore();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Shared options for the charts over training steps.

export interface StepChartHooks {
  onZoomed: (chart: Chart) => void;
}

export function stepChartOptions(yTitle: string, hooks: StepChartHooks, y: Record<string, unknown> = {}): ChartOptions<'line'> {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true, // every series' x increases strictly (series.ts): chart.js skips sorting and checks
    spanGaps: true,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    elements: { point: { radius: 0, hitRadius: 6, hoverRadius: 3 }, line: { borderWidth: 1.5, tension: 0 } },
    scales: {
      // Round ticks; while zoomed, no odd labels at the zoom's edges (includeBounds: false).
      x: { type: 'linear', title: { display: true, text: 'step' }, ticks: { maxTicksLimit: 8, includeBounds: false, callback: (v) => formatNumber(Number(v)) } },
      y: { type: 'linear', title: { display: true, text: yTitle }, ticks: { maxTicksLimit: 6, callback: (v) => formatNumber(Number(v)) }, ...y },
    },
    plugins: {
      legend: { display: false },
      decimation: MIN_MAX_DECIMATION,
      tooltip: {
        filter: (item) => (item.dataset as { tooltip?: boolean }).tooltip !== false,
        callbacks: {
          title: (items) => (items.length ? `step ${items[0].parsed.x}` : ''),
          label: (item) => `${item.dataset.label}: ${formatNumber(item.parsed.y ?? NaN)}`,
        },
      },
      zoom: {
        limits: { x: { min: 'original', max: 'original', minRange: 10 } },
        pan: { enabled: true, mode: 'x', threshold: 8, onPanComplete: ({ chart }) => hooks.onZoomed(chart as Chart) },
        zoom: {
          mode: 'x',
          wheel: { enabled: true, modifierKey: 'ctrl' },
          pinch: { enabled: true },
          drag: { enabled: true, modifierKey: 'shift', backgroundColor: 'rgba(127,127,127,0.2)' },
          onZoomComplete: ({ chart }) => hooks.onZoomed(chart as Chart),
        },
      },
    },
  } as ChartOptions<'line'>;
}
