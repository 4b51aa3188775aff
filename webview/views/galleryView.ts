// "What the network learned": test images with the network's top-3 guesses, filtered (wrong only, a true class, a
// predicted class, the most confident mistakes) and paged; a confusion-matrix cell opens its images here; a test
// image clicked, or an image dropped or chosen, is classified below with the filters and activation maps. It asks
// the sidecar only while it is open: closed, it costs the run nothing.
import type { ClassifiedMessage, ClientMessage, GalleryFilter, GalleryMessage } from '../../sidecar/protocol';
import { h, setText } from '../dom';
import { drawChw, fileBase64 } from '../pixels';
import { ClassifiedView } from './classifiedView';
import { thousands } from '../text';

const PAGE = 48;
/** A dropped file travels inside one WebSocket frame (1 MiB, base64 adds a third): bigger ones go by the Explorer. */
export const MAX_DROP_BYTES = 700_000;
/** While open and the run trains, the chosen image is classified again this often, with the weights of the moment. */
const LIVE_REFRESH_MS = 4000;
const DEFAULT_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

type Chosen = { testIndex: number } | { image: { name: string; base64: string } };

export interface GalleryCallbacks {
  /** Sends a request whose requestId starts with `prefix` (gallery-, image-). */
  send(prefix: 'gallery' | 'image', make: (requestId: string) => ClientMessage): void;
}

export class GalleryView {
  readonly element: HTMLDetailsElement;
  private readonly show: HTMLSelectElement;
  private readonly trueClass: HTMLSelectElement;
  private readonly predictedClass: HTMLSelectElement;
  private readonly caption: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly dropZone: HTMLElement;
  private readonly message: HTMLElement;
  private readonly classifiedView = new ClassifiedView();
  private runId?: string;
  private running = false;
  private classNames: readonly string[] = DEFAULT_CLASSES;
  private shown = 0;
  private chosen?: Chosen;
  private inFlight = new Set<string>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly callbacks: GalleryCallbacks) {
    const classOptions = (any: string) => [h('option', { value: '' }, any), ...DEFAULT_CLASSES.map((n, i) => h('option', { value: String(i) }, n))];
    this.show = h('select', { id: 'gallery-show', 'aria-label': 'which test images' },
      h('option', { value: 'all' }, 'all test images'), h('option', { value: 'wrong' }, 'wrong only'), h('option', { value: 'confident' }, 'most confident mistakes'));
    this.trueClass = h('select', { id: 'gallery-true', 'aria-label': 'true class' }, ...classOptions('any true class'));
    this.predictedClass = h('select', { id: 'gallery-predicted', 'aria-label': 'predicted class' }, ...classOptions('any prediction'));
    const refresh = h('button', { type: 'button', id: 'gallery-refresh' }, 'Refresh');
    this.caption = h('p', { class: 'caption', id: 'gallery-caption' }, 'Open a run to see its test images with the network\'s guesses.');
    this.grid = h('div', { class: 'gallery-grid', id: 'gallery-grid' });
    this.more = h('button', { type: 'button', id: 'gallery-more' }, 'Show more');
    this.more.hidden = true;
    const input = h('input', { type: 'file', accept: '.png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp', id: 'gallery-file', 'aria-label': 'choose an image to classify' });
    this.dropZone = h('div', { class: 'drop-zone', id: 'drop-zone' }, 'Drop an image here (PNG, JPEG or WebP), or choose one: ', input,
      h('span', { class: 'caption' }, " It is resized to 32x32 as the tutorial's torchvision would (PIL, bilinear) and classified with this run's current weights."));
    this.message = h('p', { class: 'caption gallery-message', id: 'gallery-message', role: 'status' });
    this.element = h('details', { class: 'card gallery-card', id: 'gallery' },
      h('summary', {}, h('h2', {}, 'What the network learned')),
      h('div', { class: 'gallery-controls' }, this.show, this.trueClass, this.predictedClass, refresh),
      this.caption, this.grid, this.more, this.dropZone, this.message, this.classifiedView.element);

    this.element.addEventListener('toggle', () => this.toggled());
    for (const s of [this.show, this.trueClass, this.predictedClass]) s.addEventListener('change', () => this.request(0));
    refresh.addEventListener('click', () => this.request(0));
    this.more.addEventListener('click', () => this.request(this.shown));
    input.addEventListener('change', () => { if (input.files?.[0]) void this.classifyFile(input.files[0]); input.value = ''; });
    this.element.addEventListener('dragover', (e) => { e.preventDefault(); this.dropZone.classList.add('over'); });
    this.element.addEventListener('dragleave', () => this.dropZone.classList.remove('over'));
    this.element.addEventListener('drop', (e) => {
      e.preventDefault();
      this.dropZone.classList.remove('over');
      const file = e.dataTransfer?.files?.[0];
      if (file) void this.classifyFile(file);
      else this.say('Drop an image file (from your file manager; from VS Code\'s Explorer, right-click it and choose "Adam: Classify Image").', 'error');
    });
  }

  /** The dashboard's primary run and whether it trains (for live refreshes). */
  setRun(runId: string | undefined, running: boolean): void {
    this.running = running;
    this.updateTimer();
    if (runId === this.runId) return;
    this.runId = runId;
    this.chosen = undefined;
    this.grid.replaceChildren();
    this.shown = 0;
    if (this.element.open) this.request(0);
  }

  /** A new evaluation of the primary run: the gallery (and the chosen image) follow its weights. */
  evaluated(runId: string): void {
    if (runId !== this.runId || !this.element.open) return;
    this.request(0);
    this.classifyChosen();
  }

  /** A confusion-matrix cell: its images (true class row, predicted class column). */
  showCell(trueClass: number, predictedClass: number): void {
    this.show.value = 'all';
    this.trueClass.value = String(trueClass);
    this.predictedClass.value = String(predictedClass);
    if (!this.element.open) this.element.open = true; // the toggle event requests
    else this.request(0);
    this.element.scrollIntoView({ block: 'start' });
  }

  gallery(m: GalleryMessage): void {
    if (m.requestId !== undefined) this.inFlight.delete(String(m.requestId));
    if (m.runId !== this.runId) return;
    this.classNames = m.classNames;
    if (m.offset === 0) this.grid.replaceChildren();
    for (const item of m.items) this.grid.append(this.cell(item));
    this.shown = m.offset + m.items.length;
    this.more.hidden = this.shown >= m.matching;
    const weights = m.source === 'live' ? 'current weights' : 'newest checkpoint';
    setText(this.caption, `Step ${thousands(m.step)} (${weights}): ${thousands(m.matching)} of ${thousands(m.total)} test images match; showing ${thousands(this.shown)}. Click an image for its activation maps.`);
  }

  /** Any classified image, asked for here or by "Adam: Classify Image" in the Explorer. */
  classified(m: ClassifiedMessage): void {
    if (m.requestId !== undefined) this.inFlight.delete(String(m.requestId));
    if (String(m.requestId ?? '').startsWith('classify-')) {
      // From the Explorer: shown as the sidecar read it (the file itself cannot be loaded under the CSP).
      this.classifiedView.showOriginal(m.original ? `data:${m.original.mimeType};base64,${m.original.base64}` : undefined, 'as given');
      if (!this.element.open) this.element.open = true;
    }
    this.classifiedView.show(m, this.classNames);
    this.say('');
  }

  /** An error answering one of this view's requests; true when it was one. */
  error(requestId: string | number | undefined, message: string): boolean {
    const id = String(requestId ?? '');
    const fromExplorer = id.startsWith('classify-');
    if (!this.inFlight.delete(id) && !fromExplorer) return false;
    this.say(message, 'error');
    if (id.startsWith('image-')) {
      // An image the sidecar refuses is not asked about again.
      this.chosen = undefined;
      this.updateTimer();
    }
    if (fromExplorer && !this.element.open) this.element.open = true;
    return true;
  }

  private toggled(): void {
    this.updateTimer();
    if (this.element.open) this.request(0);
  }

  private updateTimer(): void {
    const live = this.element.open && this.running && this.chosen !== undefined;
    if (live && !this.timer) this.timer = setInterval(() => this.classifyChosen(), LIVE_REFRESH_MS);
    if (!live && this.timer) { clearInterval(this.timer); this.timer = undefined; }
  }

  private filter(): GalleryFilter {
    const f: GalleryFilter = {};
    if (this.show.value === 'wrong') f.wrongOnly = true;
    if (this.show.value === 'confident') f.order = 'confidentMistakes';
    if (this.trueClass.value !== '') f.trueClass = Number(this.trueClass.value);
    if (this.predictedClass.value !== '') f.predictedClass = Number(this.predictedClass.value);
    return f;
  }

  private request(offset: number): void {
    const runId = this.runId;
    if (!runId || !this.element.open) return;
    if (offset === 0 && this.grid.childElementCount === 0) setText(this.caption, 'Classifying the test set...');
    this.callbacks.send('gallery', (requestId) => {
      this.inFlight.add(requestId);
      return { type: 'gallery', runId, filter: this.filter(), offset, limit: PAGE, requestId };
    });
  }

  private cell(item: GalleryMessage['items'][number]): HTMLElement {
    const canvas = h('canvas', { class: 'pixelated', width: 32, height: 32 });
    drawChw(canvas, item.image);
    const right = item.top[0]?.class === this.classNames[item.label];
    const top = h('ol', { class: 'top3' }, ...item.top.map((g) => h('li', {}, `${g.class} ${(g.probability * 100).toFixed(0)}%`)));
    const figure = h('figure', { class: `gallery-cell ${right ? 'right' : 'wrong'}`, tabindex: 0, 'data-index': item.index, title: `test image ${item.index}: click for its activation maps` },
      canvas, h('figcaption', {}, h('span', { class: 'truth' }, this.classNames[item.label] ?? String(item.label)), top));
    const choose = () => this.choose({ testIndex: item.index }, undefined);
    figure.addEventListener('click', choose);
    figure.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); } });
    return figure;
  }

  private async classifyFile(file: File): Promise<void> {
    if (!this.runId) return this.say('Open a run first: the image is classified with its weights.', 'error');
    if (!/\.(png|jpe?g|webp)$/i.test(file.name) && !/^image\/(png|jpeg|webp)$/.test(file.type)) {
      return this.say(`${file.name} is not a PNG, JPEG or WebP image.`, 'error');
    }
    if (file.size > MAX_DROP_BYTES) {
      return this.say(`${file.name} is ${thousands(file.size)} bytes, more than the dashboard can send (${thousands(MAX_DROP_BYTES)}); in VS Code, right-click it in the Explorer and choose "Adam: Classify Image", or use adam-trainer predict.`, 'error');
    }
    const base64 = await fileBase64(file);
    this.choose({ image: { name: file.name, base64 } }, `data:${file.type || 'image/png'};base64,${base64}`);
  }

  private choose(chosen: Chosen, dataUrl: string | undefined): void {
    this.chosen = chosen;
    this.classifiedView.showOriginal(dataUrl, 'as given');
    this.say('Classifying...');
    this.classifyChosen();
    this.updateTimer();
  }

  private classifyChosen(): void {
    const runId = this.runId;
    const chosen = this.chosen;
    if (!runId || !chosen || [...this.inFlight].some((id) => id.startsWith('image-'))) return;
    this.callbacks.send('image', (requestId) => {
      this.inFlight.add(requestId);
      return { type: 'classify', runId, ...chosen, requestId };
    });
  }

  private say(text: string, kind: 'info' | 'error' = 'info'): void {
    setText(this.message, text);
    this.message.classList.toggle('error', kind === 'error');
  }
}
