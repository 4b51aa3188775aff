// One image as the network sees it: the picture (a dropped file as the user had it), its 32x32 version, the top-3
// classes, how it was resized (the sidecar's sentence), conv1's six filters and conv2's sixteen activation maps for it.
import type { ClassifiedMessage } from '../../sidecar/protocol';
import { h, setText } from '../dom';
import { drawChw, drawFilter, drawMap } from '../pixels';
import { thousands } from '../text';

export class ClassifiedView {
  readonly element: HTMLElement;
  private readonly original: HTMLImageElement;
  private readonly originalFigure: HTMLElement;
  private readonly originalCaption: HTMLElement;
  private readonly resized: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private readonly top: HTMLOListElement;
  private readonly note: HTMLElement;
  private readonly filters: HTMLElement;
  private readonly maps: HTMLElement;

  constructor() {
    this.original = h('img', { class: 'original', alt: 'the image as given' });
    this.originalCaption = h('figcaption', {});
    this.originalFigure = h('figure', { class: 'classified-original' }, this.original, this.originalCaption);
    this.originalFigure.hidden = true;
    this.resized = h('canvas', { class: 'pixelated resized', id: 'classified-resized', width: 32, height: 32 });
    this.caption = h('p', { class: 'caption', id: 'classified-caption' });
    this.top = h('ol', { class: 'top3', id: 'classified-top' });
    this.note = h('p', { class: 'caption', id: 'classified-note' });
    this.filters = h('div', { class: 'filters', id: 'conv1-filters' });
    this.maps = h('div', { class: 'maps', id: 'conv2-maps' });
    this.element = h(
      'section',
      { class: 'classified', id: 'classified', 'aria-labelledby': 'classified-title' },
      h('h3', { id: 'classified-title' }, 'One image, as the network sees it'),
      this.caption,
      h('div', { class: 'classified-row' },
        this.originalFigure,
        h('figure', {}, this.resized, h('figcaption', {}, 'what the network sees: 32x32')),
        this.top),
      this.note,
      h('h3', {}, "conv1's six 5x5 filters (RGB; grey is 0, each filter scaled to its own range)"),
      this.filters,
      h('h3', {}, "conv2's 16 activation maps for this image (10x10 after ReLU; white is the largest)"),
      this.maps,
    );
    this.element.hidden = true;
  }

  /** The picture a user dropped, shown as given (a data URL: the CSP allows data: images and nothing more). */
  showOriginal(dataUrl: string | undefined, label = ''): void {
    this.originalFigure.hidden = dataUrl === undefined;
    if (dataUrl !== undefined) this.original.src = dataUrl;
    setText(this.originalCaption, label);
  }

  show(m: ClassifiedMessage, classNames: readonly string[]): void {
    this.element.hidden = false;
    const truth = m.label !== undefined ? `; true class ${classNames[m.label] ?? m.label}` : '';
    const weights = m.source === 'live' ? 'the run\'s current weights' : m.runId ? 'the run\'s newest checkpoint' : 'the chosen checkpoint';
    setText(this.caption, `${m.name} (${m.width}x${m.height})${truth}: classified with ${weights}, step ${thousands(m.step)}.`);
    if (!this.originalFigure.hidden) setText(this.originalCaption, `as given: ${m.width}x${m.height}`);
    drawChw(this.resized, m.image);
    this.top.replaceChildren(
      ...m.top.map((g) => {
        const fill = h('div', { class: 'bar-fill' });
        fill.style.width = `${(g.probability * 100).toFixed(1)}%`;
        return h('li', {}, h('span', { class: 'bar-label' }, g.class), h('div', { class: 'bar-track' }, fill), h('span', { class: 'bar-value' }, `${(g.probability * 100).toFixed(1)}%`));
      }),
    );
    setText(this.note, m.note);
    this.filters.replaceChildren(
      ...Array.from({ length: 6 }, (_, f) => {
        const c = h('canvas', { class: 'pixelated filter', title: `conv1 filter ${f}` });
        drawFilter(c, m.conv1, f * 75);
        return c;
      }),
    );
    let max = 0;
    for (const v of m.conv2) max = Math.max(max, v);
    this.maps.replaceChildren(
      ...Array.from({ length: 16 }, (_, k) => {
        const c = h('canvas', { class: 'pixelated map', title: `conv2 channel ${k}` });
        drawMap(c, m.conv2, k * 100, 10, max);
        return c;
      }),
    );
  }
}
