// `adam-trainer runs [--runs-dir DIR] [--json]`: the runs in the runs folder, oldest first.
import { existsSync } from 'node:fs';
import type { RunSummary } from '../protocol';
import { adamTrainerHome, resolveUserPath } from '../store/paths';
import { RunStore } from '../store/runs';
import { parseFlags } from './args';

const HELP = `usage: adam-trainer runs [--runs-dir DIR] [--json]

Lists the runs in the runs folder (default ~/.adam-trainer/runs, or $ADAM_TRAINER_HOME/runs).
"interrupted" marks a run left running by a sidecar that is gone: resume it from its folder.
  --json   one JSON array of run summaries (the protocol's RunSummary) instead of a table
`;

export async function runs(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, { 'runs-dir': { kind: 'string' }, json: { kind: 'boolean' }, help: { kind: 'boolean' } });
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const runsDir = resolveUserPath(String(flags['runs-dir'] ?? adamTrainerHome().runsDir), '--runs-dir');
  const list = existsSync(runsDir) ? new RunStore(runsDir).listRuns() : [];
  if (flags.json) {
    process.stdout.write(JSON.stringify(list) + '\n');
    return 0;
  }
  if (!list.length) {
    process.stdout.write(`no runs in ${runsDir}\n`);
    return 0;
  }
  process.stdout.write(table(list) + '\n');
  return 0;
}

export function table(list: RunSummary[]): string {
  const rows = [['RUN ID', 'STATE', 'STEP', 'TEST ACC', 'OPTIMIZER', 'LR', 'BATCH', 'EPOCHS', 'SEED', 'GROUP', 'PARENT']];
  for (const r of list) {
    rows.push([
      r.runId,
      r.orphaned ? `${r.state} (interrupted)` : r.state,
      r.step !== undefined ? String(r.step) : '-',
      r.testAccuracy !== undefined ? `${(r.testAccuracy * 100).toFixed(1)}%` : '-',
      r.config.optimizer,
      String(r.config.learningRate),
      String(r.config.batchSize),
      String(r.config.epochs),
      String(r.config.seed),
      r.group?.id ?? '-',
      r.parentRunId !== undefined ? `${r.parentRunId}@${r.forkStep ?? '?'}` : '-',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
