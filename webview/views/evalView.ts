// After each `eval`: accuracy per class as bars, and the 10x10 confusion matrix (rows: true class,
// columns: predicted), each cell shaded by its share of the row.
import type { EvalMessage } from '../../sidecar/protocol';
import { h, setText } from '../dom';
import { formatNumber } from '../markers';
import { thousands } from '../text';

/** The PyTorch tutorial's own short names for the two long CIFAR-10 names, narrow enough for column heads. */
const SHORT_NAMES: Record<string, string> = { airplane: 'plane', automobile: 'car' };

export class EvalView {
  readonly element: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly bars: HTMLElement;
  private readonly matrix: HTMLTableElement;
  private shownKey = '';

  /** `cellClicked`: a confusion-matrix cell was clicked (the gallery shows its images). */
  constructor(private readonly callbacks: { cellClicked?: (trueClass: number, predictedClass: number) => void } = {}) {
    this.caption = h('p', { class: 'caption', id: 'eval-caption' }, 'Per-class accuracy and the confusion matrix appear after the first evaluation on the test set (at the end of each epoch).');
    this.bars = h('div', { class: 'class-bars', id: 'class-bars' });
    this.matrix = h('table', { class: 'confusion', id: 'confusion' });
    this.element = h(
      'section',
      { class: 'card eval-card', 'aria-labelledby': 'eval-title' },
      h('h2', { id: 'eval-title' }, 'Test set'),
      this.caption,
      h('div', { class: 'eval-grid' }, h('div', {}, h('h3', {}, 'Accuracy per class'), this.bars), h('div', {}, h('h3', {}, 'Confusion matrix'), this.matrix)),
    );
  }

  update(e: EvalMessage | undefined): void {
    const key = e ? `${e.runId}@${e.step}` : '';
    if (key === this.shownKey) return;
    this.shownKey = key;
    if (!e) {
      this.bars.replaceChildren();
      this.matrix.replaceChildren();
      return;
    }
    // The sidecar names the classes (runs recorded before it did show their labels).
    const CLASS_NAMES = e.classNames ?? e.perClassAccuracy.map((_, i) => `class ${i}`);
    setText(this.caption, `After epoch ${formatNumber(e.epoch)} (step ${thousands(e.step)}): test accuracy ${(e.testAccuracy * 100).toFixed(1)}%, test loss ${e.testLoss.toFixed(3)}.`);
    this.bars.replaceChildren(
      ...CLASS_NAMES.map((name, i) => {
        const acc = e.perClassAccuracy[i];
        const fill = h('div', { class: 'bar-fill' });
        fill.style.width = `${Math.max(0, Math.min(1, acc)) * 100}%`;
        return h('div', { class: 'bar-row' }, h('span', { class: 'bar-label' }, name), h('div', { class: 'bar-track' }, fill), h('span', { class: 'bar-value' }, `${(acc * 100).toFixed(0)}%`));
      }),
    );
    const head = h('tr', {}, h('th', { class: 'corner', title: 'rows: true class; columns: predicted' }, 'true \\ pred'), ...CLASS_NAMES.map((n) => h('th', { title: n }, SHORT_NAMES[n] ?? n)));
    const rows = e.confusion.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      return h(
        'tr',
        {},
        h('th', {}, CLASS_NAMES[i]),
        ...row.map((count, j) => {
          const share = count / total;
          const cell = h('td', { title: `${CLASS_NAMES[i]} predicted as ${CLASS_NAMES[j]}: ${count} (${(share * 100).toFixed(1)}%)`, class: i === j ? 'diag' : '' }, count);
          cell.style.setProperty('--share', share.toFixed(3));
          if (this.callbacks.cellClicked && count > 0) {
            cell.classList.add('clickable');
            cell.tabIndex = 0;
            cell.addEventListener('click', () => this.callbacks.cellClicked?.(i, j));
            cell.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') this.callbacks.cellClicked?.(i, j); });
          }
          return cell;
        }),
      );
    });
    this.matrix.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  }
}
