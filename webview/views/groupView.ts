// "Comparison over seeds": a group of runs (adam-trainer compare, "Adam: Compare over Seeds...") drawn as each
// optimizer's mean training loss with a band (min-max or -+1 std, a toggle), the test accuracy of every seed,
// the statistics and the verdict with its interval, updated as the runs finish. Also starts a comparison.
import type { ChartDataset } from 'chart.js';
import { COMPARED_OPTIMIZERS, type ComparedOptimizer, type RunGroup } from '../../sidecar/protocol';
import type { SampleSummary } from '../../sidecar/stats';
import { Chart, stepChartOptions } from '../chartKit';
import { RUN_PALETTE, withAlpha } from '../colors';
import { h, setText } from '../dom';
import type { GroupSnapshot } from '../groupModel';
import type { BandKind } from '../groupSeries';
import type { XY } from '../series';

export interface GroupViewActions {
  openGroup(groupId: string | undefined): void;
  bandChanged(band: BandKind): void;
  startComparison(optimizers: ComparedOptimizer[], seedCount: number): void;
}

/** Each optimizer keeps one colour in every group (its place in the list of optimizers). */
export function optimizerColor(optimizer: ComparedOptimizer): string {
  return RUN_PALETTE[COMPARED_OPTIMIZERS.indexOf(optimizer) % RUN_PALETTE.length];
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(2)}%`);
const pts = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(2)}`);

export class GroupView {
  readonly element: HTMLElement;
  private readonly picker: HTMLSelectElement;
  private readonly band: HTMLSelectElement;
  private readonly status: HTMLElement;
  private readonly body: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly stats: HTMLElement;
  private readonly verdict: HTMLElement;
  private readonly chart: Chart<'line', XY[]>;
  private readonly canvas: HTMLCanvasElement;
  private pickerKey = '';
  private structureKey = '';

  constructor(private readonly actions: GroupViewActions, initialBand: BandKind) {
    this.picker = h('select', { id: 'group-picker', 'aria-label': 'comparison to show' });
    this.picker.addEventListener('change', () => actions.openGroup(this.picker.value || undefined));
    this.band = h('select', { id: 'group-band', 'aria-label': 'band around the mean' }, h('option', { value: 'minmax' }, 'band: min – max'), h('option', { value: 'std' }, 'band: ± 1 std'));
    this.band.value = initialBand;
    this.band.addEventListener('change', () => actions.bandChanged(this.band.value as BandKind));
    this.status = h('p', { class: 'caption', id: 'group-status' });
    this.canvas = h('canvas', { id: 'chart-group', role: 'img', 'aria-label': 'mean training loss per optimizer over the seeds, with a band' });
    this.table = h('table', { class: 'group-table', id: 'group-seeds' });
    this.stats = h('div', { class: 'group-stats', id: 'group-stats' });
    this.verdict = h('p', { class: 'group-verdict', id: 'group-verdict' });
    this.body = h(
      'div',
      { class: 'group-body' },
      h('div', { class: 'chart-box' }, this.canvas),
      h('p', { class: 'caption' }, 'Training loss of each optimizer averaged over its seeds (each run smoothed as above, bold) and the band around it; runs still training count where they have reached.'),
      h('div', { class: 'group-columns' }, h('div', {}, h('h3', {}, 'Test accuracy by seed'), this.table), h('div', {}, h('h3', {}, 'Over the seeds'), this.stats, this.verdict)),
    );
    this.element = h(
      'section',
      { class: 'card chart-card wide group-card', id: 'card-group', 'aria-labelledby': 'group-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'group-title' }, 'Comparison over seeds'), h('div', { class: 'chart-controls' }, this.picker, this.band)),
      this.status,
      this.body,
      this.startForm(),
    );
    this.chart = new Chart(this.canvas, { type: 'line', data: { datasets: [] }, options: stepChartOptions('training loss', { onZoomed: () => undefined }) });
    (this.chart.options.plugins as Record<string, unknown>).legend = {
      display: true,
      position: 'bottom',
      labels: { boxWidth: 12, boxHeight: 2, filter: (item: { text: string }) => !/ (lower|upper)$/.test(item.text) },
    };
  }

  update(groups: RunGroup[], snapshot: GroupSnapshot | undefined): void {
    this.updatePicker(groups, snapshot?.group.id);
    this.body.hidden = snapshot === undefined;
    this.band.hidden = snapshot === undefined;
    if (!snapshot) {
      setText(this.status, groups.length ? 'Pick a comparison to show, or start one.' : 'No comparison yet: start one below, or run “adam-trainer compare”.');
      this.describe(undefined);
      return;
    }
    const { group, members } = snapshot;
    const finished = members.filter((m) => m.testAccuracy !== undefined).length;
    const training = members.filter((m) => m.state === 'running' || m.state === 'idle' || m.state === 'downloading' || m.state === 'paused').length;
    const failed = members.filter((m) => m.state === 'failed' || m.state === 'stopped').length;
    const total = group.optimizers.length * group.seeds.length;
    setText(this.status, `${group.optimizers.join(' vs ')} over ${group.seeds.length} seed${group.seeds.length > 1 ? 's' : ''}: ${finished} of ${total} runs finished` +
      (training ? `, ${training} training` : '') + (failed ? `, ${failed} stopped or failed` : '') + ` (${group.id})`);
    this.drawChart(snapshot);
    this.fillTable(snapshot);
    this.fillStats(snapshot);
    setText(this.verdict, snapshot.summary.verdict);
    this.describe(snapshot);
  }

  private updatePicker(groups: RunGroup[], openId: string | undefined): void {
    const key = JSON.stringify([groups.map((g) => g.id), openId]);
    if (key === this.pickerKey) return;
    this.pickerKey = key;
    this.picker.replaceChildren(
      h('option', { value: '' }, groups.length ? '— no comparison —' : '— none yet —'),
      ...groups.map((g) => h('option', { value: g.id }, `${g.optimizers.join(' vs ')} · ${g.seeds.length} seeds · ${g.id.replace(/^compare-/, '')}`)),
    );
    this.picker.value = openId ?? '';
  }

  private drawChart(s: GroupSnapshot): void {
    const key = JSON.stringify(s.curves.map((c) => c.optimizer));
    const datasets = s.curves.flatMap(({ optimizer, curve }) => {
      const color = optimizerColor(optimizer);
      return [
        { label: `${optimizer} upper`, data: curve.upper, borderWidth: 0, backgroundColor: withAlpha(color, 0.16), fill: '+1', pointHoverRadius: 0, pointHitRadius: 0, tooltip: false },
        { label: `${optimizer} lower`, data: curve.lower, borderWidth: 0, fill: false, pointHoverRadius: 0, pointHitRadius: 0, tooltip: false },
        { label: `${optimizer} mean`, data: curve.mean, borderColor: color, backgroundColor: color, borderWidth: 2 },
      ] as Array<ChartDataset<'line', XY[]>>;
    });
    if (key !== this.structureKey) {
      this.structureKey = key;
      this.chart.data.datasets = datasets;
    } else {
      datasets.forEach((d, i) => (this.chart.data.datasets[i].data = d.data));
    }
    this.chart.update('none');
  }

  private fillTable(s: GroupSnapshot): void {
    const { group, members, summary } = s;
    const d = summary.difference;
    const head = h('tr', {}, h('th', {}, 'seed'), ...group.optimizers.map((o) => h('th', {}, o)), d ? h('th', {}, `${d.a} − ${d.b}`) : null);
    const rows = group.seeds.map((seed) => {
      const cells = group.optimizers.map((o) => {
        const m = members.find((x) => x.seed === seed && x.optimizer === o);
        const text = !m ? 'waiting' : m.testAccuracy !== undefined ? pct(m.testAccuracy) : m.state === 'done' ? '–' : m.state;
        return h('td', { class: m?.testAccuracy !== undefined ? 'num' : 'num pending', 'data-optimizer': o }, text);
      });
      const acc = (o: string) => members.find((x) => x.seed === seed && x.optimizer === o)?.testAccuracy;
      const diff = d && acc(d.a) !== undefined && acc(d.b) !== undefined ? acc(d.a)! - acc(d.b)! : undefined;
      return h('tr', { 'data-seed': seed }, h('th', {}, String(seed)), ...cells, d ? h('td', { class: 'num' }, diff === undefined ? '' : pts(diff)) : null);
    });
    this.table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  }

  private fillStats(s: GroupSnapshot): void {
    const line = (label: string, color: string | undefined, x: SampleSummary, f: (v: number | null | undefined) => string) => {
      const swatch = h('span', { class: 'swatch' });
      if (color) swatch.style.background = color;
      return h(
        'div',
        { class: 'group-stat' },
        color ? swatch : null,
        h('strong', {}, label),
        ` n = ${x.n} · mean ${f(x.mean)} · std ${x.std === null ? '–' : (100 * x.std).toFixed(2)} · 95% CI ${x.ci95 ? `${f(x.ci95[0])} … ${f(x.ci95[1])}` : '–'}`,
      );
    };
    const d = s.summary.difference;
    this.stats.replaceChildren(
      ...s.group.optimizers.map((o) => line(o, optimizerColor(o), s.summary.optimizers[o], pct)),
      ...(d ? [line(`${d.a} − ${d.b} (points, paired by seed)`, undefined, d, pts)] : []),
    );
  }

  /** What the view shows, as data attributes: for tests and tools that cannot read pixels. */
  private describe(s: GroupSnapshot | undefined): void {
    const d = s?.summary.difference;
    Object.assign(this.canvas.dataset, {
      group: s?.group.id ?? '',
      finished: String(s?.results.length ?? 0),
      curves: s ? s.curves.map((c) => `${c.optimizer}:${c.runs}:${c.curve.mean.length}`).join('|') : '',
      band: this.band.value,
      differenceMean: d?.mean === null || d?.mean === undefined ? '' : String(d.mean),
      differenceCi95: d?.ci95 ? d.ci95.join(',') : '',
    });
  }

  private startForm(): HTMLElement {
    const count = h('input', { type: 'text', id: 'group-seed-count', value: '10', inputmode: 'numeric', 'aria-label': 'number of seeds', size: 4 });
    const boxes = COMPARED_OPTIMIZERS.map((o) => h('input', { type: 'checkbox', value: o, checked: o === 'adam' || o === 'sgd', 'aria-label': o, 'data-optimizer': o }));
    const error = h('span', { class: 'caption error', id: 'group-start-error' });
    const start = h('button', { type: 'button', id: 'group-start', class: 'primary' }, 'Compare over seeds');
    start.addEventListener('click', () => {
      const n = Number(count.value.trim());
      const optimizers = boxes.filter((b) => b.checked).map((b) => b.value as ComparedOptimizer);
      const why = !/^\d+$/.test(count.value.trim()) || n < 1 || n > 1000 ? 'seeds: a whole number in 1..1000' : optimizers.length === 0 ? 'pick at least one optimizer' : '';
      setText(error, why);
      count.setAttribute('aria-invalid', why.startsWith('seeds') ? 'true' : 'false');
      if (!why) this.actions.startComparison(optimizers, n);
    });
    return h(
      'div',
      { class: 'group-start toolbar' },
      h('label', { class: 'inline' }, 'seeds 1 …', count),
      ...boxes.map((b) => h('label', { class: 'inline' }, b, b.value)),
      start,
      error,
      h('span', { class: 'hint' }, 'the new-run form’s data, length, batch and hyperparameters; one worker a run, side by side'),
    );
  }
}
