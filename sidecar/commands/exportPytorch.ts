// `adam-trainer export-pytorch RUN_ID|CHECKPOINT OUT_DIR`: the run as a PyTorch script that reproduces it,
// alone or under DistributedDataParallel (sidecar/pytorch/).
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors';
import { loadDataset, type Dataset } from '../data';
import { writeExport } from '../pytorch/export';
import { planFromCheckpoint, planFromRun, type ExportPlan } from '../pytorch/plan';
import { adamTrainerHome, checkRunId, resolveUserPath } from '../store/paths';
import { parseFlags } from './args';

const HELP = `usage: adam-trainer export-pytorch RUN_ID|CHECKPOINT OUT_DIR [--with-data] [--runs-dir DIR] [--cache-dir DIR]

Writes the run as a PyTorch experiment into OUT_DIR: train.py, init.safetensors, run.json and README.md.
A run (its id in the runs folder, or its folder) is reproduced from its first step; a .ckpt checkpoint
continues from its step with its optimizer state.
  --with-data   also write the run's images as adam-trainer decoded them (CIFAR-10's binary layout, in
                OUT_DIR/data), which train.py then reads by default: for an image folder of JPEGs, the
                only way to train on the very same pixels (Pillow's decoder differs by a few levels)
Then:
  python OUT_DIR/train.py --data DIR [--max-steps N] [--log-every N] [--json] [--out RUN_DIR]
  torchrun --standalone --nproc_per_node 2 OUT_DIR/train.py --data DIR      (DistributedDataParallel)
`;

export async function exportPytorchCommand(args: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(args, { 'runs-dir': { kind: 'string' }, 'cache-dir': { kind: 'string' }, 'with-data': { kind: 'boolean' }, help: { kind: 'boolean' } }, true);
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UserError('bad_usage', `export-pytorch takes a run (or checkpoint) and an output folder, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}; usage: adam-trainer export-pytorch RUN_ID|CHECKPOINT OUT_DIR`);
  }
  const home = adamTrainerHome();
  const cacheDir = resolveUserPath(String(flags['cache-dir'] ?? home.cacheDir), '--cache-dir');
  const plan = planFor(positionals[0], String(flags['runs-dir'] ?? home.runsDir), cacheDir);
  const outDir = resolveUserPath(positionals[1], 'OUT_DIR');
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UserError('bad_path', `${outDir} is a file; OUT_DIR is a folder to write the export into`);
  let data: Dataset | undefined;
  if (flags['with-data']) {
    data = await loadDataset({ data: plan.config.data, cacheDir, notice: (line) => process.stderr.write(line + '\n') });
    checkCounts(plan, data);
  }
  writeExport(plan, outDir, data);
  const what = plan.from.kind === 'run' ? 'from its first step' : `from step ${plan.start.step}`;
  process.stdout.write(
    `wrote ${outDir}: train.py, init.safetensors, run.json, README.md (run ${plan.runId} ${what}, ${plan.edits.length} edit${plan.edits.length === 1 ? '' : 's'})\n` +
      `  python ${join(outDir, 'train.py')}${data ? '' : ` --data ${plan.dataset.path ?? 'DIR'}`}\n`,
  );
  return 0;
}

/** The data must be the run's: a checkpoint's data order covers exactly its training set. */
function checkCounts(plan: ExportPlan, data: Dataset): void {
  const { trainCount, testCount } = plan.dataset;
  if ((trainCount !== undefined && trainCount !== data.train.count) || (testCount !== undefined && testCount !== data.test.count)) {
    throw new UserError('bad_dataset', `the run trained on ${trainCount} training and ${testCount} test images; its data (${data.source}) now has ${data.train.count} and ${data.test.count}`);
  }
}

/** A checkpoint file, a run's folder, or a run id in the runs folder. */
function planFor(target: string, runsDir: string, cacheDir: string): ExportPlan {
  const path = resolveUserPath(target, 'RUN_ID|CHECKPOINT');
  if (existsSync(path) && statSync(path).isFile()) return planFromCheckpoint(path, cacheDir);
  if (existsSync(join(path, 'config.json'))) return planFromRun(dirname(path), basename(path), cacheDir);
  return planFromRun(resolveUserPath(runsDir, '--runs-dir'), checkRunId(target), cacheDir);
}
