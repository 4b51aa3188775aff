// The one protocol module (DESIGN.md "WebSocket"): every message between the sidecar and its clients is
// defined here once, as a zod schema that gives both the TypeScript type and the runtime check. The
// sidecar, the extension and the webview all import it; nothing else parses JSON from the wire.
import * as z from 'zod';

export const PROTOCOL_VERSION = 2; // 2: a history's metrics as columns (metricsColumnsSchema)

// ---------------------------------------------------------------------------------------------------
// Hyperparameters and run configuration: one name per hyperparameter on the wire, in settings and in code.

import { OPTIMIZERS, type OptimizerName } from './optim/hyperparameters';
import { AUGMENTATIONS, type AugmentationName } from './data/augment';
import { COMPARED_OPTIMIZERS, type ComparedOptimizer } from './optim/variants';
export { OPTIMIZERS, type OptimizerName, AUGMENTATIONS, type AugmentationName, COMPARED_OPTIMIZERS, type ComparedOptimizer };
import { SCHEDULES, type ScheduleName } from './optim/schedule';
export { SCHEDULES, type ScheduleName };

const finite = () => z.number({ error: (i) => (i.input === undefined ? 'is required' : `must be a finite number, got ${show(i.input)}`) });
const int = () => z.number({ error: (i) => `must be an integer, got ${show(i.input)}` }).int({ error: (i) => `must be an integer, got ${show(i.input)}` });

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 40) + '…' : s;
  } catch {
    return typeof v;
  }
}

const inRange = (lo: number, hi: number, hiOpen: boolean, loOpen = false) =>
  finite().refine((x) => (loOpen ? x > lo : x >= lo) && (hiOpen ? x < hi : x <= hi), {
    error: (i) => `must be in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${show(i.input)}`,
  });

export const hyperparameterSchemas = {
  learningRate: inRange(0, 1, false, true),
  beta1: inRange(0, 1, true),
  beta2: inRange(0, 1, true),
  epsilon: finite().refine((x) => x > 0, { error: (i) => `must be > 0, got ${show(i.input)}` }),
  weightDecay: finite().refine((x) => x >= 0, { error: (i) => `must be >= 0, got ${show(i.input)}` }),
  momentum: inRange(0, 1, true),
  alpha: inRange(0, 1, true),
  batchSize: int().refine((x) => x >= 1 && x <= 1024, { error: (i) => `must be an integer in 1..1024, got ${show(i.input)}` }),
};
// Learning-rate schedules (optim/schedule.ts), live like the hyperparameters: an edit changes the schedule from the
// step it takes effect at. scheduleSteps (what "over the run" means) is fixed when the run starts: 0 asks for the run's
// planned length, which the run then records.
export const scheduleFieldSchemas = {
  schedule: z.enum(SCHEDULES, { error: (i) => `must be one of ${SCHEDULES.join(', ')}, got ${show(i.input)}` }),
  warmupSteps: int().refine((x) => x >= 0 && x <= 1e9, { error: (i) => `must be an integer in 0..1000000000, got ${show(i.input)}` }),
  minLearningRate: inRange(0, 1, false),
  maxLearningRate: inRange(0, 1, false, true),
  stepSize: int().refine((x) => x >= 1 && x <= 1e9, { error: (i) => `must be an integer in 1..1000000000, got ${show(i.input)}` }),
  gamma: inRange(0, 1, false, true),
  pctStart: inRange(0, 1, true, true),
};
export const SCHEDULE_FIELDS = ['schedule', 'warmupSteps', 'minLearningRate', 'maxLearningRate', 'stepSize', 'gamma', 'pctStart'] as const;
export type ScheduleField = (typeof SCHEDULE_FIELDS)[number];
export const SCHEDULE_DEFAULTS = { schedule: 'constant', warmupSteps: 0, minLearningRate: 0, maxLearningRate: 0.01, stepSize: 1000, gamma: 0.1, pctStart: 0.3, scheduleSteps: 0 } as const;

export const LIVE_HYPERPARAMETERS = ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'momentum', 'alpha', 'batchSize'] as const;
export type LiveHyperparameter = (typeof LIVE_HYPERPARAMETERS)[number];

export const configFieldSchemas = {
  ...hyperparameterSchemas,
  optimizer: z.enum(OPTIMIZERS, { error: (i) => `must be one of ${OPTIMIZERS.join(', ')}, got ${show(i.input)}` }),
  // The variants that define an optimizer (issue 14's ablations) and the data augmentation: fixed for a run.
  biasCorrection: z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` }),
  nesterov: z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` }),
  augment: z.enum(AUGMENTATIONS, { error: (i) => `must be one of ${AUGMENTATIONS.join(', ')}, got ${show(i.input)}` }),
  epochs: int().refine((x) => x >= 1 && x <= 10000, { error: (i) => `must be an integer in 1..10000, got ${show(i.input)}` }),
  workers: int().refine((x) => x >= 1 && x <= 64, { error: (i) => `must be an integer in 1..64, got ${show(i.input)}` }),
  seed: int().refine((x) => x >= 0 && x <= 0xffffffff, { error: (i) => `must be an integer in 0..4294967295, got ${show(i.input)}` }),
  maxSteps: int().refine((x) => x >= 0, { error: (i) => `must be an integer >= 0 (0 = no limit), got ${show(i.input)}` }),
  logEvery: int().refine((x) => x >= 1, { error: (i) => `must be an integer >= 1, got ${show(i.input)}` }),
  checkpointEvery: int().refine((x) => x >= 1, { error: (i) => `must be an integer >= 1, got ${show(i.input)}` }),
  ...scheduleFieldSchemas,
  scheduleSteps: int().refine((x) => x >= 0 && x <= 1e9, { error: (i) => `must be an integer in 0..1000000000 (0 = the run's planned steps), got ${show(i.input)}` }),
  data: z.string({ error: 'must be a string (a dataset folder, or "sample")' }).max(4096).refine((s) => !s.includes('\0'), 'must not contain NUL bytes'),
};

export const liveHyperparametersSchema = z.strictObject({
  learningRate: hyperparameterSchemas.learningRate.optional(),
  beta1: hyperparameterSchemas.beta1.optional(),
  beta2: hyperparameterSchemas.beta2.optional(),
  epsilon: hyperparameterSchemas.epsilon.optional(),
  weightDecay: hyperparameterSchemas.weightDecay.optional(),
  momentum: hyperparameterSchemas.momentum.optional(),
  alpha: hyperparameterSchemas.alpha.optional(),
  batchSize: hyperparameterSchemas.batchSize.optional(),
  schedule: scheduleFieldSchemas.schedule.optional(),
  warmupSteps: scheduleFieldSchemas.warmupSteps.optional(),
  minLearningRate: scheduleFieldSchemas.minLearningRate.optional(),
  maxLearningRate: scheduleFieldSchemas.maxLearningRate.optional(),
  stepSize: scheduleFieldSchemas.stepSize.optional(),
  gamma: scheduleFieldSchemas.gamma.optional(),
  pctStart: scheduleFieldSchemas.pctStart.optional(),
});
export type LiveHyperparameters = z.infer<typeof liveHyperparametersSchema>;

/** What a client may send in `start`: every field optional; an omitted one takes the command line's default. */
export const startConfigSchema = z.strictObject({
  optimizer: configFieldSchemas.optimizer.optional(),
  learningRate: configFieldSchemas.learningRate.optional(),
  beta1: configFieldSchemas.beta1.optional(),
  beta2: configFieldSchemas.beta2.optional(),
  epsilon: configFieldSchemas.epsilon.optional(),
  weightDecay: configFieldSchemas.weightDecay.optional(),
  momentum: configFieldSchemas.momentum.optional(),
  alpha: configFieldSchemas.alpha.optional(),
  biasCorrection: configFieldSchemas.biasCorrection.optional(),
  nesterov: configFieldSchemas.nesterov.optional(),
  augment: configFieldSchemas.augment.optional(),
  batchSize: configFieldSchemas.batchSize.optional(),
  epochs: configFieldSchemas.epochs.optional(),
  workers: configFieldSchemas.workers.optional(),
  seed: configFieldSchemas.seed.optional(),
  maxSteps: configFieldSchemas.maxSteps.optional(),
  logEvery: configFieldSchemas.logEvery.optional(),
  checkpointEvery: configFieldSchemas.checkpointEvery.optional(),
  data: configFieldSchemas.data.optional(),
  schedule: configFieldSchemas.schedule.optional(),
  warmupSteps: configFieldSchemas.warmupSteps.optional(),
  minLearningRate: configFieldSchemas.minLearningRate.optional(),
  maxLearningRate: configFieldSchemas.maxLearningRate.optional(),
  stepSize: configFieldSchemas.stepSize.optional(),
  gamma: configFieldSchemas.gamma.optional(),
  pctStart: configFieldSchemas.pctStart.optional(),
  scheduleSteps: configFieldSchemas.scheduleSteps.optional(),
});
export type StartConfig = z.infer<typeof startConfigSchema>;

/** A fully resolved run configuration (every field present but the dataset). Runs recorded before issue 14's fields
 *  existed read with the values they trained with. */
export const runConfigSchema = startConfigSchema.required().extend({
  data: configFieldSchemas.data.optional(),
  alpha: configFieldSchemas.alpha.default(0.99),
  biasCorrection: configFieldSchemas.biasCorrection.default(true),
  nesterov: configFieldSchemas.nesterov.default(false),
  augment: configFieldSchemas.augment.default('none'),
  // Runs and checkpoints recorded before schedules existed trained at a constant lr.
  schedule: configFieldSchemas.schedule.default(SCHEDULE_DEFAULTS.schedule),
  warmupSteps: configFieldSchemas.warmupSteps.default(SCHEDULE_DEFAULTS.warmupSteps),
  minLearningRate: configFieldSchemas.minLearningRate.default(SCHEDULE_DEFAULTS.minLearningRate),
  maxLearningRate: configFieldSchemas.maxLearningRate.default(SCHEDULE_DEFAULTS.maxLearningRate),
  stepSize: configFieldSchemas.stepSize.default(SCHEDULE_DEFAULTS.stepSize),
  gamma: configFieldSchemas.gamma.default(SCHEDULE_DEFAULTS.gamma),
  pctStart: configFieldSchemas.pctStart.default(SCHEDULE_DEFAULTS.pctStart),
  scheduleSteps: configFieldSchemas.scheduleSteps.default(SCHEDULE_DEFAULTS.scheduleSteps),
});
export type RunConfig = z.infer<typeof runConfigSchema>;

/** PyTorch's defaults (Adam lr 1e-3, betas 0.9/0.999, eps 1e-8; AdamW's weight decay 0.01; the seed's SGD momentum 0.9;
 *  RMSprop's alpha 0.99 and momentum 0), but one learning rate, 1e-3, for every optimizer, so that a comparison
 *  compares optimizers and not learning rates (PyTorch's RMSprop default is 1e-2). */
export function resolveConfig(partial: StartConfig, defaultWorkers: number): RunConfig {
  const optimizer = partial.optimizer ?? 'adam';
  return {
    optimizer,
    learningRate: partial.learningRate ?? 1e-3,
    beta1: partial.beta1 ?? 0.9,
    beta2: partial.beta2 ?? 0.999,
    epsilon: partial.epsilon ?? 1e-8,
    weightDecay: partial.weightDecay ?? (optimizer === 'adamw' ? 0.01 : 0),
    momentum: partial.momentum ?? (optimizer === 'rmsprop' ? 0 : 0.9),
    alpha: partial.alpha ?? 0.99,
    biasCorrection: partial.biasCorrection ?? true,
    nesterov: partial.nesterov ?? false,
    augment: partial.augment ?? 'none',
    batchSize: partial.batchSize ?? 4,
    epochs: partial.epochs ?? 2,
    workers: partial.workers ?? defaultWorkers,
    seed: partial.seed ?? 0,
    maxSteps: partial.maxSteps ?? 0,
    logEvery: partial.logEvery ?? 100,
    checkpointEvery: partial.checkpointEvery ?? 1000,
    schedule: partial.schedule ?? SCHEDULE_DEFAULTS.schedule,
    warmupSteps: partial.warmupSteps ?? SCHEDULE_DEFAULTS.warmupSteps,
    minLearningRate: partial.minLearningRate ?? SCHEDULE_DEFAULTS.minLearningRate,
    maxLearningRate: partial.maxLearningRate ?? SCHEDULE_DEFAULTS.maxLearningRate,
    stepSize: partial.stepSize ?? SCHEDULE_DEFAULTS.stepSize,
    gamma: partial.gamma ?? SCHEDULE_DEFAULTS.gamma,
    pctStart: partial.pctStart ?? SCHEDULE_DEFAULTS.pctStart,
    scheduleSteps: partial.scheduleSteps ?? SCHEDULE_DEFAULTS.scheduleSteps,
    ...(partial.data !== undefined ? { data: partial.data } : {}),
  };
}

/** The sentence for one field's value, or undefined when it is valid (used by the form, the settings and the CLI). */
export function fieldError(field: keyof typeof configFieldSchemas, value: unknown): string | undefined {
  const r = configFieldSchemas[field].safeParse(value);
  return r.success ? undefined : `${field} ${r.error.issues[0]?.message ?? 'is invalid'}`;
}

// ---------------------------------------------------------------------------------------------------
// Between the extension and its webview (not on the socket): the webview's `ready` (it posts it before anything
// is posted to it), and the extension's `host`, the state of its connection to the sidecar.

export const CONNECTION_STATES = ['connecting', 'open', 'closed'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];
export const readyMessageSchema = z.strictObject({ type: z.literal('ready') });
export type ReadyMessage = z.infer<typeof readyMessageSchema>;
/** The page's pace (webview to extension host, never to the sidecar): how often it draws the live stream now
 * (webview/drawScheduler.ts). The relay posts the stream no more often than the page can use it (extension/relay.ts). */
export const paceMessageSchema = z.strictObject({ type: z.literal('pace'), drawEveryMs: z.number().finite().min(0).max(3_600_000) });
export type PaceMessage = z.infer<typeof paceMessageSchema>;
export const hostMessageSchema = z.strictObject({ type: z.literal('host'), connection: z.enum(CONNECTION_STATES), detail: z.string().max(4096).optional() });
export type HostMessage = z.infer<typeof hostMessageSchema>;
/** The extension's `batch`: the live messages of the last few hundred milliseconds in one post (extension/relay.ts).
 * Each one is checked as it would be alone. */
export const MAX_BATCH_MESSAGES = 4096;
export const hostBatchSchema = z.strictObject({ type: z.literal('batch'), messages: z.array(z.unknown()).max(MAX_BATCH_MESSAGES) });
export type HostBatch = { type: 'batch'; messages: ServerMessage[] };

// ---------------------------------------------------------------------------------------------------
// Client to sidecar.

const runId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'must be a run id (letters, digits, . _ -)');
/** Whether `s` is well formed as a run id (not whether the run exists). */
export const isRunId = (s: string): boolean => runId.safeParse(s).success;
const requestId = z.union([z.string().max(128), z.number().int()]).optional();

/** At most this many seeds in one comparison (each seed is a run per optimizer). */
export const MAX_COMPARE_SEEDS = 1000;

/** A comparison over seeds (`adam-trainer compare`): each of its runs records the group it belongs to. */
export const runGroupSchema = z.strictObject({
  id: runId,
  // An optimizer with its variant (optim/variants.ts): `adam`, `sgd-nesterov`, `adam-no-bias-correction`, ...
  optimizers: z
    .array(z.enum(COMPARED_OPTIMIZERS, { error: (i) => `must be one of ${COMPARED_OPTIMIZERS.join(', ')}, got ${show(i.input)}` }))
    .min(1, 'must name at least one optimizer')
    .max(COMPARED_OPTIMIZERS.length)
    .refine((list) => new Set(list).size === list.length, 'must not name an optimizer twice'),
  seeds: z
    .array(configFieldSchemas.seed)
    .min(1, 'must hold at least one seed')
    .max(MAX_COMPARE_SEEDS, `must hold at most ${MAX_COMPARE_SEEDS} seeds`)
    .refine((list) => new Set(list).size === list.length, 'must not repeat a seed'),
});
export type RunGroup = z.infer<typeof runGroupSchema>;

// Predictions (what the network learned): the gallery of test images with their top-3 classes, and one image
// classified with its conv1 filters and conv2 activation maps. Images travel as base64 of 3,072 bytes (C, H, W).

export const GALLERY_ORDERS = ['index', 'confidentMistakes'] as const;
/** At most this many images in one gallery page (48 x 4 KB of base64). */
export const MAX_GALLERY_PAGE = 100;
const classIndex = int().refine((x) => x >= 0 && x <= 9, { error: (i) => `must be a class index in 0..9, got ${show(i.input)}` });
export const galleryFilterSchema = z.strictObject({
  wrongOnly: z.boolean().optional(),
  trueClass: classIndex.optional(),
  predictedClass: classIndex.optional(),
  /** index: test-set order; confidentMistakes: wrong predictions, the most confident first. */
  order: z.enum(GALLERY_ORDERS).optional(),
});
export type GalleryFilter = z.infer<typeof galleryFilterSchema>;
const base64 = (maxChars: number) => z.string().max(maxChars).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const guesses = z.array(z.strictObject({ class: z.string().max(64), probability: z.number() })).max(10);
/** Where a prediction's weights came from: the run's current weights, or a checkpoint file. */
export const WEIGHT_SOURCES = ['live', 'checkpoint'] as const;

const galleryRequestSchema = z.strictObject({
  type: z.literal('gallery'),
  runId,
  filter: galleryFilterSchema.optional(),
  offset: int().refine((x) => x >= 0, 'must be >= 0').optional(),
  limit: int().refine((x) => x >= 1 && x <= MAX_GALLERY_PAGE, `must be an integer in 1..${MAX_GALLERY_PAGE}`).optional(),
  requestId,
});
/** One image to classify: a test image of the run's dataset, a file path (the Explorer's), or bytes (a drop). */
const classifyRequestSchema = z
  .strictObject({
    type: z.literal('classify'),
    runId: runId.optional(),
    checkpoint: z.string().min(1).max(4096).optional(),
    testIndex: int().refine((x) => x >= 0, 'must be >= 0').optional(),
    path: z.string().min(1).max(4096).optional(),
    image: z.strictObject({ name: z.string().max(256), base64: base64(1_000_000) }).optional(),
    requestId,
  })
  .refine((m) => (m.runId === undefined) !== (m.checkpoint === undefined), { error: 'classify must name either a runId or a checkpoint, not both' })
  .refine((m) => [m.testIndex, m.path, m.image].filter((x) => x !== undefined).length === 1, { error: 'classify must give exactly one of testIndex, path or image' });
export type ClassifyRequest = z.infer<typeof classifyRequestSchema>;
export type GalleryRequest = z.infer<typeof galleryRequestSchema>;

export const galleryMessageSchema = z.strictObject({
  type: z.literal('gallery'),
  runId,
  step: z.number().int(),
  source: z.enum(WEIGHT_SOURCES),
  /** Test images classified (the whole test split), and how many of them pass the filter. */
  total: z.number().int(),
  matching: z.number().int(),
  offset: z.number().int(),
  filter: galleryFilterSchema,
  classNames: z.array(z.string().max(64)).length(10),
  items: z.array(z.strictObject({ index: z.number().int(), label: z.number().int(), top: guesses, image: base64(4096) })).max(MAX_GALLERY_PAGE),
  requestId,
});
export type GalleryMessage = z.infer<typeof galleryMessageSchema>;

export const classifiedMessageSchema = z.strictObject({
  type: z.literal('classified'),
  runId: runId.optional(),
  step: z.number().int(),
  source: z.enum(WEIGHT_SOURCES),
  name: z.string().max(4096),
  width: z.number().int(),
  height: z.number().int(),
  resized: z.boolean(),
  /** How the image became 32x32, for the UI to state. */
  note: z.string().max(1000),
  image: base64(4096),
  /** The true class of a test image. */
  label: z.number().int().optional(),
  /** A file classified by its path, as given (up to 512 KB), for the dashboard to show beside its 32x32 version. */
  original: z.strictObject({ mimeType: z.enum(['image/png', 'image/jpeg', 'image/webp']), base64: base64(700_000) }).optional(),
  top: guesses,
  /** conv1.weight (6 x 3 x 5 x 5) and conv2's activation maps after ReLU (16 x 10 x 10), row-major. */
  conv1: z.array(z.number()).length(450),
  conv2: z.array(z.number()).length(1600),
  requestId,
});
export type ClassifiedMessage = z.infer<typeof classifiedMessageSchema>;
// The learning-rate range test (`adam-trainer lr-find`, sidecar/lrFinder.ts): its own ranges, wider than a run's lr.
export const lrFindFieldSchemas = {
  minLearningRate: inRange(0, 10, false, true),
  maxLearningRate: inRange(0, 10, false, true),
  steps: int().refine((x) => x >= 2 && x <= 100000, { error: (i) => `must be an integer in 2..100000, got ${show(i.input)}` }),
};
export const LR_FIND_DEFAULTS = { minLearningRate: 1e-7, maxLearningRate: 1, steps: 300 } as const;
/** Why a range test's lr range is empty, or undefined. */
export function lrRangeProblem(min: number, max: number): string | undefined {
  return min < max ? undefined : `minLearningRate ${min} must be below maxLearningRate ${max}`;
}

/** A connection's share of its runs' live stream (the client message `live`). */
export const LIVE_LEVELS = ['all', 'status'] as const;
export type LiveLevel = (typeof LIVE_LEVELS)[number];
/** At the `status` level, a run's metrics reach the connection at most this often (the status bar shows them every
 *  5 s, extension/format.ts; the Runs view its step every 2 s). */
export const STATUS_METRICS_MS = 1000;

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('start'), config: startConfigSchema, resumeFrom: z.string().max(4096).optional(), requestId }),
  liveHyperparametersSchema.extend({ type: z.literal('update'), runId, requestId }).strict(),
  z.strictObject({ type: z.literal('pause'), runId, requestId }),
  z.strictObject({ type: z.literal('resume'), runId, requestId }),
  z.strictObject({ type: z.literal('stop'), runId, requestId }),
  z.strictObject({ type: z.literal('checkpoint'), runId, requestId }),
  z.strictObject({ type: z.literal('evaluate'), runId, requestId }),
  z.strictObject({ type: z.literal('fork'), runId, step: int().refine((x) => x >= 0, 'must be >= 0'), changes: liveHyperparametersSchema, requestId }),
  z.strictObject({ type: z.literal('subscribe'), runId, requestId }),
  z.strictObject({ type: z.literal('unsubscribe'), runId, requestId }),
  // How much of its runs' live stream this connection gets from now on (server/liveLevel.ts): `all` (a new connection's)
  // or `status` (no step histograms, system figures or routine checkpoint notices, and a run's metrics at most once
  // every STATUS_METRICS_MS): VS Code's extension host while no dashboard page shows the stream. No reply.
  z.strictObject({ type: z.literal('live'), level: z.enum(LIVE_LEVELS), requestId }),
  // The run's full detail between two steps (a chart zoomed into them): answered by `detail`.
  z.strictObject({
    type: z.literal('detail'),
    runId,
    fromStep: int().refine((x) => x >= 0, 'must be >= 0'),
    toStep: int().refine((x) => x >= 1, 'must be >= 1'),
    requestId,
  }).refine((m) => m.toStep > m.fromStep, { message: 'must be after fromStep', path: ['toStep'] }),
  z.strictObject({ type: z.literal('list'), requestId }),
  z.strictObject({ type: z.literal('delete'), runId, requestId }),
  // A range test beside a run (never touching it): its data, batch size, seed and hyperparameters, a fresh net, one
  // worker thread; answered by an `lrFound` per optimizer, in order.
  z.strictObject({
    type: z.literal('lrFind'),
    runId,
    optimizers: z
      .array(configFieldSchemas.optimizer)
      .min(1, 'must name at least one optimizer')
      .max(OPTIMIZERS.length)
      .refine((list) => new Set(list).size === list.length, 'must not name an optimizer twice'),
    minLearningRate: lrFindFieldSchemas.minLearningRate.optional(),
    maxLearningRate: lrFindFieldSchemas.maxLearningRate.optional(),
    steps: lrFindFieldSchemas.steps.optional(),
    requestId,
  }),
  // Every (optimizer, seed) pair with the rest of `config`, as many at a time as the cores allow; answered by
  // `comparing`, then a `started` (with the group) for each run as it starts, which subscribes the sender.
  z.strictObject({
    type: z.literal('compare'),
    optimizers: runGroupSchema.shape.optimizers,
    seeds: runGroupSchema.shape.seeds,
    config: startConfigSchema.omit({ optimizer: true, seed: true }),
    requestId,
  }),
  galleryRequestSchema,
  classifyRequestSchema,
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

// ---------------------------------------------------------------------------------------------------
// Sidecar to client.

/** Most points of a `detail` answer per series. */
export const DETAIL_POINTS = 2048;
/**
 * Points a run's history is summarised to (neighbours merged, min and max kept), and the buckets the page keeps per
 * series: about twice a chart's width in pixels, so a run of any length costs the same to send, hold and draw.
 */
export const SUMMARY_POINTS = 1024;

/** Every `error.code` a client can receive, and what it means. */
export const ERROR_CODES = [
  'bad_usage', // command-line flags (exit 2)
  'bad_config', // a run configuration, setting or live edit
  'bad_dataset', // a dataset file or folder
  'download_failed', // CIFAR-10 could not be downloaded
  'bad_checkpoint', // a checkpoint file that cannot be used
  'bad_image', // an image to classify that cannot be read (not an image, damaged, too large)
  'bad_path', // a path from the wire or a setting that is refused
  'bad_message', // a message that fails validation
  'rate_limited', // more than the allowed messages a second
  'unknown_run', // no such run in the runs folder
  'run_busy', // the run is trained by another process, or must be stopped first
  'run_failed', // the run failed (its state says why)
  'worker_failed', // a worker thread failed
  'too_many_runs', // the sidecar trains as many runs as it allows (serve --max-runs): stop one first
  'write_failed', // a checkpoint or the run's files could not be written (training goes on; the message says what was lost)
  'read_failed', // a run's files exist but could not be read (the message names the file); never answered as "empty"
  'internal_error', // a bug in the sidecar: the message names it
  'not_connected', // the extension has no sidecar connection right now (it is being started or restarted)
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const RUN_STATES = ['idle', 'downloading', 'running', 'paused', 'stopped', 'done', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];
/** A run in one of these states has not ended: its process holds it, and it may train on (idle: loading data). */
export const LIVE_STATES: ReadonlySet<RunState> = new Set(['idle', 'downloading', 'running', 'paused']);
/** A run in one of these has ended; it never trains again (a fork or a resume makes a new run or continues it). */
export const ENDED_STATES: ReadonlySet<RunState> = new Set(['stopped', 'done', 'failed']);
export const isEnded = (state: string): boolean => ENDED_STATES.has(state as RunState);

const num = z.number();
const layerStats = z.record(z.string(), num);

export const runSummarySchema = z.strictObject({
  runId,
  state: z.enum(RUN_STATES),
  config: runConfigSchema,
  parentRunId: runId.optional(),
  forkStep: z.number().int().optional(),
  createdAt: z.string().optional(),
  step: z.number().int().optional(),
  testAccuracy: num.optional(),
  /** The run's last state is running or paused but the process that ran it is gone: offer to resume it. */
  orphaned: z.boolean().optional(),
  /** The comparison over seeds the run belongs to. */
  group: runGroupSchema.optional(),
  /** Why an ended run ended (its last `state` message's reason, a failure's error): only for an ended run. */
  reason: z.string().optional(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

export const optimizerStatsSchema = z.strictObject({
  step: z.number().int(),
  learningRate: num,
  beta1: num,
  beta2: num,
  epsilon: num,
  biasCorrection1: num,
  biasCorrection2: num,
  /** Per layer: RMS of m_hat, RMS of sqrt(v_hat), RMS of the step (all parameters of the layer). */
  layers: z.record(z.string(), z.strictObject({ mHatRms: num, sqrtVHatRms: num, stepRms: num })),
});
export type OptimizerStats = z.infer<typeof optimizerStatsSchema>;

export const metricsMessageSchema = z.strictObject({
  type: z.literal('metrics'),
  runId,
  step: z.number().int(),
  epoch: num,
  samplesSeen: z.number().int(),
  loss: num,
  lossMin: num,
  lossMax: num,
  accuracy: num,
  learningRate: num,
  samplesPerSec: num,
  /** Per layer: RMS of the parameter update / learningRate, Adam's trust region made visible. */
  updateRatio: layerStats,
  optimizer: optimizerStatsSchema.optional(),
  /** Threads training now: fewer than the run's workers while the engine measures that fewer train faster. */
  threads: z.number().int().min(1).optional(),
});
export type MetricsMessage = z.infer<typeof metricsMessageSchema>;

/** The numbers every metrics line has, one column each in a history. */
const LINE_FIELDS = ['step', 'epoch', 'samplesSeen', 'loss', 'lossMin', 'lossMax', 'accuracy', 'learningRate', 'samplesPerSec'] as const;
type LineField = (typeof LINE_FIELDS)[number];

/**
 * A history's metrics lines as columns: one array per field, one entry per line (`updateRatio` per layer, null where
 * a line has no such layer; `threads` null where a line has none). Only the last line may carry optimizer statistics
 * (historySummary keeps the latest alone), and it is sent once. A page checks a long run's 1,024 lines as objects in
 * 65-117 ms and as columns in 7-12 (zod without its compiler, as the page's CSP requires; the first check in a page).
 */
export const metricsColumnsSchema = z
  .strictObject({
    step: z.array(z.number().int()),
    epoch: z.array(num),
    samplesSeen: z.array(z.number().int()),
    loss: z.array(num),
    lossMin: z.array(num),
    lossMax: z.array(num),
    accuracy: z.array(num),
    learningRate: z.array(num),
    samplesPerSec: z.array(num),
    updateRatio: z.record(z.string(), z.array(num.nullable())),
    threads: z.array(z.number().int().min(1).nullable()).optional(),
    /** The last line's. */
    optimizer: optimizerStatsSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const lines = c.step.length;
    const columns: Array<[string[], unknown[] | undefined]> = [
      ...[...LINE_FIELDS, 'threads' as const].map((k): [string[], unknown[] | undefined] => [[k], c[k]]),
      ...Object.entries(c.updateRatio).map(([layer, list]): [string[], unknown[]] => [['updateRatio', layer], list]),
    ];
    for (const [path, list] of columns) {
      if (list !== undefined && list.length !== lines) ctx.addIssue({ code: 'custom', path, message: `must hold one value per line (${lines}), got ${list.length}` });
    }
    if (c.optimizer !== undefined && lines === 0) ctx.addIssue({ code: 'custom', path: ['optimizer'], message: 'must come with a line' });
  });
export type MetricsColumns = z.infer<typeof metricsColumnsSchema>;

/** `lines` as a history sends them (metricsColumnsSchema). A line's optimizer statistics go only with the last line. */
export function metricsColumns(lines: readonly MetricsMessage[]): MetricsColumns {
  const layers = [...new Set(lines.flatMap((m) => Object.keys(m.updateRatio)))];
  const columns = Object.fromEntries(LINE_FIELDS.map((k) => [k, lines.map((m) => m[k])])) as Record<LineField, number[]> as MetricsColumns;
  columns.updateRatio = Object.fromEntries(layers.map((layer) => [layer, lines.map((m) => m.updateRatio[layer] ?? null)]));
  if (lines.some((m) => m.threads !== undefined)) columns.threads = lines.map((m) => m.threads ?? null);
  const optimizer = lines.at(-1)?.optimizer;
  if (optimizer !== undefined) columns.optimizer = optimizer;
  return columns;
}

/** The lines of a history's metrics columns, as the live `metrics` messages of run `runId` would have been. */
export function metricsLines(runId: string, c: MetricsColumns): MetricsMessage[] {
  const layers = Object.entries(c.updateRatio);
  return c.step.map((_, i) => {
    const m = { type: 'metrics', runId } as MetricsMessage;
    for (const k of LINE_FIELDS) m[k] = c[k][i];
    m.updateRatio = {};
    for (const [layer, list] of layers) if (list[i] !== null) m.updateRatio[layer] = list[i]!;
    if (c.threads?.[i] != null) m.threads = c.threads[i]!;
    if (c.optimizer !== undefined && i === c.step.length - 1) m.optimizer = c.optimizer;
    return m;
  });
}

export const evalMessageSchema = z.strictObject({
  type: z.literal('eval'),
  runId,
  step: z.number().int(),
  epoch: num,
  testLoss: num,
  testAccuracy: num,
  perClassAccuracy: z.array(num).length(10),
  confusion: z.array(z.array(z.number().int()).length(10)).length(10),
  // The classes, in label order, that the accuracies and the confusion matrix are about (absent in runs recorded
  // before it was sent).
  classNames: z.array(z.string().max(64)).length(10).optional(),
});
export type EvalMessage = z.infer<typeof evalMessageSchema>;

export const appliedMessageSchema = z.strictObject({
  type: z.literal('applied'),
  runId,
  step: z.number().int(),
  changes: z.record(z.string(), z.strictObject({ from: z.union([num, z.string().max(64)]), to: z.union([num, z.string().max(64)]) })), // strings: the schedule's name
  requestId, // the one request answered (an edit that changed nothing is answered to its requester alone)
  requestIds: z.array(z.union([z.string().max(128), z.number().int()])).max(1000).optional(), // every merged request
});
export type AppliedMessage = z.infer<typeof appliedMessageSchema>;

/**
 * The learning rate a run plans from `step` on (its schedule, optim/schedule.ts), as the points that draw it: sent as
 * it starts training and after every edit of learningRate or of the schedule, whose step it carries.
 */
export const planMessageSchema = z.strictObject({
  type: z.literal('plan'),
  runId,
  step: z.number().int(),
  points: z.array(z.strictObject({ step: z.number().int(), learningRate: num })).max(5000),
});
export type PlanMessage = z.infer<typeof planMessageSchema>;

export const stateMessageSchema = z.strictObject({ type: z.literal('state'), runId, state: z.enum(RUN_STATES), reason: z.string().optional(), step: z.number().int().optional() });
export type StateMessage = z.infer<typeof stateMessageSchema>;

// What each parameter's step is (sidecar/optim/stepHistogram.ts): per layer, counts of the layer's parameters in
// fixed log bins (sidecar/optim/stepBins.ts) of |m̂/(√v̂+ε)| (absent for SGD) and of |update|/|parameter|, sampled
// every few hundred steps within a time budget. A column merged from several (a long run's history) sums their
// counts and covers fromStep..step.
const logBinsSchema = z
  .strictObject({ lo: int(), hi: int(), perDecade: int().refine((x) => x >= 1 && x <= 30, 'must be in 1..30') })
  .refine((b) => b.lo < b.hi && b.hi - b.lo <= 40, 'must have lo < hi, at most 40 decades apart');
const binCountsSchema = z.array(z.number().int().nonnegative({ error: 'must hold counts (integers >= 0)' })).max(1202);
export const stepHistogramMessageSchema = z
  .strictObject({
    type: z.literal('stepHistogram'),
    runId,
    step: int().refine((x) => x >= 1, 'must be >= 1'),
    fromStep: int().refine((x) => x >= 1, 'must be >= 1'),
    columns: int().refine((x) => x >= 1, 'must be >= 1'),
    bins: z.strictObject({ effectiveStep: logBinsSchema, updateRatio: logBinsSchema }),
    layers: z
      .record(z.string().min(1).max(32), z.strictObject({ effectiveStep: binCountsSchema.optional(), updateRatio: binCountsSchema }))
      .refine((l) => Object.keys(l).length >= 1 && Object.keys(l).length <= 16, 'must hold 1..16 layers'),
  })
  .superRefine((m, ctx) => {
    if (m.fromStep > m.step) ctx.addIssue({ code: 'custom', path: ['fromStep'], message: `must be <= step (${m.step}), got ${m.fromStep}` });
    for (const [layer, counts] of Object.entries(m.layers)) {
      for (const kind of ['effectiveStep', 'updateRatio'] as const) {
        const list = counts[kind];
        const b = m.bins[kind];
        const want = (b.hi - b.lo) * b.perDecade + 2;
        if (list && list.length !== want) ctx.addIssue({ code: 'custom', path: ['layers', layer, kind], message: `must hold ${want} counts for its bins, got ${list.length}` });
      }
    }
  });
export type StepHistogramMessage = z.infer<typeof stepHistogramMessageSchema>;

export const serverMessageSchema = z.discriminatedUnion('type', [
  // `subscribed`: the runs named by the socket URL's `run` parameters that exist; their histories follow the hello
  // without a subscribe (server.ts), so the page does not ask for them again.
  z.strictObject({ type: z.literal('hello'), protocolVersion: z.number().int(), runs: z.array(runSummarySchema), subscribed: z.array(runId).optional() }),
  z.strictObject({ type: z.literal('started'), runId, config: runConfigSchema, parentRunId: runId.optional(), forkStep: z.number().int().optional(), group: runGroupSchema.optional(), requestId }),
  z.strictObject({ type: z.literal('comparing'), group: runGroupSchema, requestId }),
  metricsMessageSchema,
  evalMessageSchema,
  appliedMessageSchema,
  planMessageSchema,
  stateMessageSchema,
  stepHistogramMessageSchema,
  z.strictObject({ type: z.literal('progress'), phase: z.enum(['download', 'extract', 'decode']), done: num, total: num, runId: runId.optional() }),
  z.strictObject({ type: z.literal('error'), code: z.enum(ERROR_CODES), message: z.string(), field: z.string().optional(), runId: runId.optional(), requestId }),
  z.strictObject({
    type: z.literal('history'),
    runId,
    config: runConfigSchema,
    state: z.enum(RUN_STATES),
    reason: z.string().optional(), // an ended run's, as in the run list
    parentRunId: runId.optional(),
    forkStep: z.number().int().optional(),
    metrics: metricsColumnsSchema, // metricsLines(runId, metrics) gives the lines
    evals: z.array(evalMessageSchema),
    applied: z.array(appliedMessageSchema),
    stepHistograms: z.array(stepHistogramMessageSchema).max(1000).optional(), // merged to a bounded count
    plans: z.array(planMessageSchema).optional(), // absent for runs recorded before schedules
    requestId,
  }),
  z.strictObject({ type: z.literal('runs'), runs: z.array(runSummarySchema), requestId }),
  // Steps fromStep + 1 .. toStep of a run: every step's loss from its losses.f32 (or, for a range of more than
  // DETAIL_POINTS steps, that many buckets of mean, min and max) and the metrics recorded in the range.
  z.strictObject({
    type: z.literal('detail'),
    runId,
    fromStep: z.number().int(),
    toStep: z.number().int(),
    // A diverged step's loss is not finite: null on the wire.
    loss: z.strictObject({ steps: z.array(z.number().int()), mean: z.array(num.nullable()), min: z.array(num.nullable()), max: z.array(num.nullable()) }),
    metrics: z.array(metricsMessageSchema),
    requestId,
  }),
  z.strictObject({ type: z.literal('checkpointed'), runId, step: z.number().int(), path: z.string(), requestId }),
  z.strictObject({
    type: z.literal('system'),
    cpuPercent: num,
    rssBytes: num,
    // Loaded datasets, each shared by the runs of the same data (data/pool.ts), and how many loads the process made.
    datasets: z.array(z.strictObject({ source: z.string().max(4096), runs: z.number().int().min(0), bytes: num })).max(64).optional(),
    datasetLoads: z.number().int().min(0).optional(),
  }),
  galleryMessageSchema,
  classifiedMessageSchema,
  z.strictObject({
    type: z.literal('lrFound'),
    runId,
    optimizer: configFieldSchemas.optimizer,
    points: z.array(z.strictObject({ step: z.number().int(), learningRate: num, loss: num, smoothedLoss: num })).max(100000),
    learningRate: num.nullable(), // the suggestion: steepest descent of the smoothed loss (null: too few steps to judge)
    minLossLearningRate: num,
    diverged: z.boolean(),
    requestId,
  }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

// ---------------------------------------------------------------------------------------------------
// Parsing: the only place JSON from the wire is read.

export interface ProtocolError {
  code: 'bad_message';
  message: string;
  field?: string;
}
export type Parsed<T> = { ok: true; message: T } | { ok: false; error: ProtocolError };

function parseWith<T>(schema: z.ZodType<T>, text: string): Parsed<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: { code: 'bad_message', message: `not valid JSON: ${(e as Error).message}` } };
  }
  return validate(schema, value);
}

function validate<T>(schema: z.ZodType<T>, value: unknown): Parsed<T> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: { code: 'bad_message', message: 'a message must be a JSON object with a "type"' } };
  }
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, message: r.data };
  const issue = r.error.issues[0];
  const path = issue.path.filter((p) => p !== 'config').join('.');
  let field = issue.path.length ? issue.path.join('.') : undefined;
  let message: string;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    field = [...issue.path, issue.keys[0]].join('.');
  } else if (issue.path.length === 1 && issue.path[0] === 'type') message = `unknown message type ${show((value as { type?: unknown }).type)}`;
  else message = path ? `${path} ${issue.message}` : issue.message;
  return { ok: false, error: { code: 'bad_message', message, ...(field ? { field } : {}) } };
}

export function parseClientMessage(text: string): Parsed<ClientMessage> {
  return parseWith(clientMessageSchema, text);
}
export function parseServerMessage(text: string): Parsed<ServerMessage> {
  return parseWith(serverMessageSchema, text);
}
export function validateClientMessage(value: unknown): Parsed<ClientMessage> {
  return validate(clientMessageSchema, value);
}
export function validateServerMessage(value: unknown): Parsed<ServerMessage> {
  return validate(serverMessageSchema, value);
}
/** The `listening` handshake, the sidecar's first stdout line under `serve`. Under `serve --socket` it names the socket
 *  and its port is 0. */
export const listeningSchema = z.strictObject({ type: z.literal('listening'), port: z.number().int(), socket: z.string().optional(), token: z.string(), url: z.string() });
export type Listening = z.infer<typeof listeningSchema>;
