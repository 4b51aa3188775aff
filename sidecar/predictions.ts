// What the sidecar answers about what a run's network learned (issue 16): the gallery of test images with their
// top-3 classes, filtered and paged, and one image (a test image, a file, dropped bytes) classified with conv1's
// filters and conv2's activation maps. Only on request: a dashboard whose gallery is closed asks nothing, and a run
// is never touched. A live run's weights are copied at a step boundary (Run.weights, as evaluation and checkpoints
// read them); a run that is not training here answers from its newest checkpoint, a checkpoint file from itself.
import { loadDataset, type Split } from './data';
import { UserError } from './errors';
import { CLASS_NAMES, IMAGE_BYTES, NUM_CLASSES, parameter } from './nn/spec';
import { Predictor, topClasses } from './predict/forward';
import { MIME_TYPES, RESIZE_NOTE, readUserImageBytes, userImage, type UserImage } from './predict/image';
import { weightsFromCheckpoint, weightsFromRun } from './predict/weights';
import type { ClassifiedMessage, ClassifyRequest, GalleryFilter, GalleryMessage, GalleryRequest, RunConfig } from './protocol';
import { resolveUserPath } from './store/paths';
import type { RunStore } from './store/runs';
import type { Run } from './trainer';

export interface PredictionsOptions {
  store: RunStore;
  cacheDir: string;
  liveRun(runId: string): Run | undefined;
}

interface Source {
  step: number;
  params: Float32Array;
  source: 'live' | 'checkpoint';
  test: () => Promise<Split>;
}

interface Classified {
  runId: string;
  step: number;
  source: 'live' | 'checkpoint';
  test: Split;
  probabilities: Float32Array; // test.count x 10
}

/** Test images forwarded between two yields to the event loop (about 4 ms with the kernels), so sockets and the run's chunks go on meanwhile. */
const SLICE_IMAGES = 100;
/** Runs whose classified test set is kept (each 400 KB for CIFAR-10's 10,000 images). */
const KEPT_RUNS = 4;
const DEFAULT_PAGE = 48;
/** A file classified by its path is sent back whole for the dashboard to show, up to this size. */
const MAX_ORIGINAL_BYTES = 512 << 10;

const toBase64 = (pixels: Uint8Array) => Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength).toString('base64');

export class Predictions {
  private readonly classified = new Map<string, Promise<Classified>>();
  private readonly testSplits = new Map<string, Promise<Split>>();
  private readonly liveTests = new Map<string, Split>();

  constructor(private readonly opts: PredictionsOptions) {}

  async gallery(msg: GalleryRequest): Promise<GalleryMessage> {
    const c = await this.classifyTestSet(msg.runId);
    const filter: GalleryFilter = msg.filter ?? {};
    const indices = selectImages(c, filter);
    const offset = msg.offset ?? 0;
    const page = indices.slice(offset, offset + (msg.limit ?? DEFAULT_PAGE));
    return {
      type: 'gallery',
      runId: msg.runId,
      step: c.step,
      source: c.source,
      total: c.test.count,
      matching: indices.length,
      offset,
      filter,
      classNames: [...CLASS_NAMES],
      items: page.map((i) => ({
        index: i,
        label: c.test.labels[i],
        top: topClasses(c.probabilities, i * NUM_CLASSES, CLASS_NAMES),
        image: toBase64(c.test.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES)),
      })),
      ...(msg.requestId !== undefined ? { requestId: msg.requestId } : {}),
    };
  }

  async classify(msg: ClassifyRequest): Promise<ClassifiedMessage> {
    const src = msg.checkpoint !== undefined ? await this.checkpointSource(msg.checkpoint) : await this.runSource(msg.runId!);
    let image: UserImage;
    let name: string;
    let label: number | undefined;
    let original: ClassifiedMessage['original'];
    if (msg.testIndex !== undefined) {
      const test = await src.test();
      if (msg.testIndex >= test.count) throw new UserError('bad_message', `testIndex must be below ${test.count} (the test set's size), got ${msg.testIndex}`, 'testIndex');
      image = { pixels: test.images.slice(msg.testIndex * IMAGE_BYTES, (msg.testIndex + 1) * IMAGE_BYTES), format: 'png', width: 32, height: 32, resized: false };
      name = `test image ${msg.testIndex}`;
      label = test.labels[msg.testIndex];
    } else if (msg.path !== undefined) {
      name = resolveUserPath(msg.path, 'image');
      const bytes = await readUserImageBytes(name);
      image = await userImage(bytes, name);
      // The picture as it was given, for the dashboard to show beside its 32x32 version (a data URL: small ones only).
      if (bytes.length <= MAX_ORIGINAL_BYTES) original = { mimeType: MIME_TYPES[image.format], base64: bytes.toString('base64') };
    } else {
      name = msg.image!.name || 'dropped image';
      image = await userImage(Buffer.from(msg.image!.base64, 'base64'), name);
    }
    const predictor = new Predictor(src.params);
    const { probabilities, conv2 } = predictor.activations(image.pixels);
    const conv1 = parameter('conv1.weight');
    return {
      type: 'classified',
      ...(msg.runId !== undefined ? { runId: msg.runId } : {}),
      step: src.step,
      source: src.source,
      name,
      width: image.width,
      height: image.height,
      resized: image.resized,
      note: image.resized ? RESIZE_NOTE : 'Already 32x32: classified as it is.',
      image: toBase64(image.pixels),
      ...(label !== undefined ? { label } : {}),
      ...(original ? { original } : {}),
      top: topClasses(probabilities, 0, CLASS_NAMES),
      conv1: Array.from(src.params.subarray(conv1.offset, conv1.offset + conv1.size)),
      conv2: Array.from(conv2),
      ...(msg.requestId !== undefined ? { requestId: msg.requestId } : {}),
    };
  }

  /** The whole test set classified with the run's weights now; computed again only when the run has moved on. */
  private async classifyTestSet(runId: string): Promise<Classified> {
    const src = await this.runSource(runId);
    const kept = this.classified.get(runId);
    if (kept) {
      const c = await kept.catch(() => null);
      if (c && c.step === src.step && c.source === src.source) return c;
    }
    const work = (async (): Promise<Classified> => {
      const test = await src.test();
      const probabilities = new Float32Array(test.count * NUM_CLASSES);
      const predictor = new Predictor(src.params);
      for (let first = 0; first < test.count; first += SLICE_IMAGES) {
        predictor.probabilities(test.images, first, Math.min(SLICE_IMAGES, test.count - first), probabilities, first * NUM_CLASSES);
        await new Promise<void>((r) => setImmediate(r));
      }
      return { runId, step: src.step, source: src.source, test, probabilities };
    })();
    this.classified.delete(runId);
    this.classified.set(runId, work);
    while (this.classified.size > KEPT_RUNS) this.classified.delete(this.classified.keys().next().value!);
    work.catch(() => this.classified.get(runId) === work && this.classified.delete(runId));
    return work;
  }

  private async runSource(runId: string): Promise<Source> {
    const run = this.opts.liveRun(runId);
    const live = await run?.weights();
    if (live) {
      // Copied now, while the run holds its dataset: the split lives in memory shared by the runs on the same data
      // (data/pool.ts), which is given back, and may be reused, once the last of them ends.
      const test = this.liveTestCopy(runId, live.test);
      return { step: live.step, params: live.params, source: 'live', test: async () => test };
    }
    const w = await weightsFromRun(this.opts.store.root, runId).catch((e) => {
      // A run still loading its data has neither weights in memory nor a checkpoint yet.
      if (run && (run.state === 'idle' || run.state === 'downloading')) throw new UserError('run_busy', `run ${runId} has no weights to show yet: it is loading its data`);
      throw e;
    });
    return { step: w.step, params: w.params, source: 'checkpoint', test: () => this.testSplit(w.config) };
  }

  /** A live run's test split, copied once per run (it does not change while the run trains). */
  private liveTestCopy(runId: string, test: Split): Split {
    const kept = this.liveTests.get(runId);
    if (kept && kept.count === test.count) return kept;
    const copy = { images: test.images.slice(0, test.count * IMAGE_BYTES), labels: test.labels.slice(0, test.count), count: test.count };
    this.liveTests.set(runId, copy);
    while (this.liveTests.size > KEPT_RUNS) this.liveTests.delete(this.liveTests.keys().next().value!);
    return copy;
  }

  private async checkpointSource(file: string): Promise<Source> {
    const w = await weightsFromCheckpoint(file);
    return { step: w.step, params: w.params, source: 'checkpoint', test: () => this.testSplit(w.config) };
  }

  /** The test split of a run's dataset, loaded (from the decoded cache) once per dataset. */
  private testSplit(config: RunConfig): Promise<Split> {
    const key = config.data ?? '';
    let split = this.testSplits.get(key);
    if (!split) {
      split = loadDataset({ data: config.data, cacheDir: this.opts.cacheDir, fallbackToSample: false }).then((d) => d.test);
      split.catch(() => this.testSplits.delete(key));
      this.testSplits.set(key, split);
    }
    return split;
  }
}

/** The test images a filter selects, in its order. */
export function selectImages(c: { test: Split; probabilities: Float32Array }, filter: GalleryFilter): number[] {
  const out: number[] = [];
  const predicted = (i: number) => {
    let arg = 0;
    for (let k = 1; k < NUM_CLASSES; k++) if (c.probabilities[i * NUM_CLASSES + k] > c.probabilities[i * NUM_CLASSES + arg]) arg = k;
    return arg;
  };
  const wrongOnly = filter.wrongOnly || filter.order === 'confidentMistakes';
  for (let i = 0; i < c.test.count; i++) {
    const label = c.test.labels[i];
    const guess = predicted(i);
    if (wrongOnly && guess === label) continue;
    if (filter.trueClass !== undefined && label !== filter.trueClass) continue;
    if (filter.predictedClass !== undefined && guess !== filter.predictedClass) continue;
    out.push(i);
  }
  if (filter.order === 'confidentMistakes') {
    const confidence = (i: number) => c.probabilities[i * NUM_CLASSES + predicted(i)];
    out.sort((a, b) => confidence(b) - confidence(a) || a - b);
  }
  return out;
}
