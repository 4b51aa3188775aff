// One step-histogram heatmap drawn on a canvas by hand (chart.js has no matrix chart of its own): step on x, the
// fixed log bins on y, each column's share of parameters in a bin as colour, and a dashed guide line. Each column
// covers the steps since the previous one; shares are per column, so merged columns (more samples) weigh the same.
import type { StepHistogramMessage } from '../sidecar/protocol';
import type { Theme } from './chartKit';
import { thousands } from './text';

export type HeatmapKind = 'effectiveStep' | 'updateRatio';

export interface HeatmapOptions {
  layer: string;
  kind: HeatmapKind;
  guide: { log10: number; label: string };
  theme: Theme;
}

const MARGIN = { left: 46, right: 8, top: 6, bottom: 18 };

/** A sequential colour for a share in (0, 1]: dark blue through teal to yellow (viridis-like, readable on both themes). */
function colorFor(share: number): string {
  const t = Math.sqrt(share); // small shares stay visible
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(0.9999, t) * (stops.length - 1);
  const i = Math.floor(x), f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Draws and returns how many cells it painted (the browser test reads it from the canvas's data-cells). */
export function drawHeatmap(canvas: HTMLCanvasElement, columns: readonly StepHistogramMessage[], o: HeatmapOptions): number {
  const cssWidth = canvas.clientWidth || 320;
  const cssHeight = canvas.clientHeight || 150;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(cssWidth * ratio)) canvas.width = Math.round(cssWidth * ratio);
  if (canvas.height !== Math.round(cssHeight * ratio)) canvas.height = Math.round(cssHeight * ratio);
  const ctx = canvas.getContext('2d');
  if (!ctx) return 0;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  const withData = columns.filter((c) => c.layers[o.layer]?.[o.kind]);
  const plotW = cssWidth - MARGIN.left - MARGIN.right;
  const plotH = cssHeight - MARGIN.top - MARGIN.bottom;
  ctx.font = `10px ${o.theme.fontFamily}`;
  ctx.fillStyle = o.theme.muted;
  if (!withData.length || plotW <= 0 || plotH <= 0) {
    ctx.fillText('no histograms yet', MARGIN.left, MARGIN.top + 14);
    return 0;
  }
  const bins = withData[0].bins[o.kind];
  const rows = (bins.hi - bins.lo) * bins.perDecade + 2; // underflow row at the bottom, overflow at the top
  const rowH = plotH / rows;
  const lastStep = withData[withData.length - 1].step;
  const xOf = (step: number) => MARGIN.left + (plotW * step) / lastStep;
  const yOfRow = (row: number) => MARGIN.top + plotH - (row + 1) * rowH;
  let cells = 0;
  let previous = 0;
  for (const c of withData) {
    const counts = c.layers[o.layer][o.kind]!;
    const total = counts.reduce((a, b) => a + b, 0);
    // Whole pixels, each column meeting the next: no hairline gaps between columns.
    const x0 = Math.floor(xOf(previous)), x1 = Math.max(Math.ceil(xOf(c.step)), x0 + 1);
    previous = c.step;
    if (!total) continue;
    for (let row = 0; row < counts.length; row++) {
      if (!counts[row]) continue;
      ctx.fillStyle = colorFor(counts[row] / total);
      ctx.fillRect(x0, yOfRow(row), x1 - x0, rowH + 0.5);
      cells++;
    }
  }
  // Axes: a label at every other decade edge (edge k sits between rows k and k+1), the first and last step.
  ctx.fillStyle = o.theme.muted;
  ctx.strokeStyle = o.theme.grid;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const decadeStep = bins.hi - bins.lo > 6 ? 2 : 1;
  for (let d = bins.lo; d <= bins.hi; d += decadeStep) {
    const y = yOfRow((d - bins.lo) * bins.perDecade) + rowH;
    ctx.fillText(`1e${d}`, MARGIN.left - 4, y);
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, y);
    ctx.lineTo(MARGIN.left + plotW, y);
    ctx.stroke();
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText('0', MARGIN.left, cssHeight - 4);
  ctx.textAlign = 'right';
  ctx.fillText(`step ${thousands(lastStep)}`, MARGIN.left + plotW, cssHeight - 4);
  // The guide line, where it falls inside the bins.
  const guideRow = (o.guide.log10 - bins.lo) * bins.perDecade;
  if (guideRow >= 0 && guideRow <= rows - 2) {
    const y = yOfRow(guideRow) + rowH;
    ctx.save();
    ctx.strokeStyle = o.theme.foreground;
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, y);
    ctx.lineTo(MARGIN.left + plotW, y);
    ctx.stroke();
    ctx.restore();
    // On a patch of the background, so the label reads over the cells.
    const textWidth = ctx.measureText(o.guide.label).width;
    ctx.fillStyle = o.theme.background;
    ctx.fillRect(MARGIN.left + plotW - textWidth - 7, y - 14, textWidth + 6, 12);
    ctx.fillStyle = o.theme.foreground;
    ctx.textAlign = 'right';
    ctx.fillText(o.guide.label, MARGIN.left + plotW - 4, y - 4);
  }
  return cells;
}
