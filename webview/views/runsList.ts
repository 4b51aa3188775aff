// The runs the sidecar knows (from `hello` and `runs`): open one, or overlay it on the open one. Each run
// keeps its colour (by id) everywhere it is drawn.
import type { RunSummary } from '../../sidecar/protocol';
import { h } from '../dom';
import { formatNumber } from '../markers';
import { newestFirst } from '../runSelection';
import { thousands } from '../text';

export interface RunsListActions {
  open(runId: string): void;
  toggleOverlay(runId: string, on: boolean): void;
}

export class RunsList {
  readonly element: HTMLElement;
  private readonly body: HTMLUListElement;
  private readonly empty: HTMLElement;

  constructor(private readonly actions: RunsListActions) {
    this.body = h('ul', { class: 'runs', id: 'runs-list' });
    this.empty = h('p', { class: 'caption' }, 'No runs yet: start one with the form, or with “Adam: Train with Adam”.');
    this.element = h('section', { class: 'card runs-card', 'aria-labelledby': 'runs-title' }, h('h2', { id: 'runs-title' }, 'Runs'), this.empty, this.body);
  }

  update(runs: RunSummary[], primaryRunId: string | undefined, overlaid: ReadonlySet<string>, colorOf: (runId: string) => string): void {
    this.empty.hidden = runs.length > 0;
    const sorted = newestFirst(runs);
    this.body.replaceChildren(
      ...sorted.map((r) => {
        const swatch = h('span', { class: 'swatch' });
        swatch.style.background = colorOf(r.runId);
        const open = h('button', { class: 'link', type: 'button', title: 'open this run', 'data-run-id': r.runId }, r.runId);
        open.addEventListener('click', () => this.actions.open(r.runId));
        const overlay = h('input', { type: 'checkbox', title: 'overlay on the open run', 'aria-label': `overlay ${r.runId}`, checked: overlaid.has(r.runId), disabled: r.runId === primaryRunId });
        overlay.addEventListener('change', () => this.actions.toggleOverlay(r.runId, overlay.checked));
        const details = [
          r.config.optimizer,
          `lr ${formatNumber(r.config.learningRate)}`,
          r.step !== undefined ? `step ${thousands(r.step)}` : null,
          r.testAccuracy !== undefined ? `test ${(r.testAccuracy * 100).toFixed(1)}%` : null,
          r.parentRunId ? `fork of ${r.parentRunId} at ${r.forkStep ?? '?'}` : null,
        ].filter(Boolean);
        return h(
          'li',
          { class: r.runId === primaryRunId ? 'current' : '', title: r.runId },
          h('div', { class: 'run-line' }, swatch, overlay, open, h('span', { class: `badge state-${r.orphaned ? 'paused' : r.state}`, title: r.orphaned ? 'left running by a sidecar that is gone; resume it from its latest checkpoint' : undefined }, r.orphaned ? 'interrupted' : r.state)),
          h('div', { class: 'run-details' }, details.join(' · ')),
        );
      }),
    );
  }
}
