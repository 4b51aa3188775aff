// `adam-trainer predict CHECKPOINT|RUN_ID IMAGE_OR_FOLDER... [--json]`: the top-3 classes of each image, resized
// to 32x32 as the tutorial's torchvision would (predict/image.ts). A folder is searched for .png, .jpg, .jpeg and
// .webp files (and its subfolders, so a test/<class>/ layout works), in name order.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, isUserError } from '../errors';
import { CLASS_NAMES, NUM_CLASSES } from '../nn/spec';
import { Predictor, topClasses } from '../predict/forward';
import { RESIZE_NOTE, readUserImage } from '../predict/image';
import { weightsFrom } from '../predict/weights';
import { adamTrainerHome, resolveUserPath } from '../store/paths';
import { parseFlags } from './args';

const HELP = `usage: adam-trainer predict CHECKPOINT|RUN_ID IMAGE_OR_FOLDER... [--json] [--runs-dir DIR]

Classifies images with a checkpoint's weights (a .ckpt file, or a run id: its newest checkpoint).
Images: PNG, JPEG or WebP of any size; a folder is searched for .png, .jpg, .jpeg and .webp files.
${RESIZE_NOTE}
  --json       one line per image: {"type":"prediction","file","top":[{"class","probability"} x3]}
  --runs-dir   where RUN_ID is looked up (default ~/.adam-trainer/runs)
`;

export const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp)$/i;

/** The image files named, a folder expanded to the images inside it (recursively, sorted). */
export function imageFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.test(name)) out.push(p);
    }
  };
  for (const given of paths) {
    const p = resolveUserPath(given, 'image');
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UserError('bad_image', `${given} does not exist`);
    }
    if (st.isDirectory()) {
      const before = out.length;
      walk(p);
      if (out.length === before) throw new UserError('bad_image', `folder ${given} holds no .png, .jpg, .jpeg or .webp file`);
    } else out.push(p);
  }
  return out;
}

export async function predictCommand(args: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(args, { json: { kind: 'boolean' }, 'runs-dir': { kind: 'string' }, help: { kind: 'boolean' } }, true);
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length < 2) throw new UserError('bad_usage', `predict takes a checkpoint or run id and at least one image or folder, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}; usage: adam-trainer predict CHECKPOINT|RUN_ID IMAGE_OR_FOLDER... [--json]`);
  const runsDir = String(flags['runs-dir'] ?? adamTrainerHome().runsDir);
  const weights = await weightsFrom(positionals[0], runsDir);
  const files = imageFiles(positionals.slice(1));
  const predictor = new Predictor(weights.params);
  const probabilities = new Float32Array(NUM_CLASSES);
  let failed = 0;
  if (!flags.json) process.stdout.write(`${weights.source}, step ${weights.step}: ${files.length} image${files.length === 1 ? '' : 's'}\n`);
  for (const file of files) {
    try {
      const image = await readUserImage(file);
      predictor.probabilities(image.pixels, 0, 1, probabilities);
      const top = topClasses(probabilities, 0, CLASS_NAMES);
      if (flags.json) process.stdout.write(JSON.stringify({ type: 'prediction', file, top }) + '\n');
      else process.stdout.write(`${file}: ${top.map((g) => `${g.class} ${(g.probability * 100).toFixed(1)}%`).join(', ')}\n`);
    } catch (e) {
      if (!isUserError(e)) throw e;
      failed++;
      process.stderr.write(`adam-trainer predict: ${e.message}\n`);
    }
  }
  return failed ? 1 : 0;
}
