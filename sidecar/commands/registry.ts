// One entry per subcommand; each takes its arguments (after the command name) and resolves to an exit code.
import { benchCommand } from './bench';
import { checkReferenceCommand } from './checkReference';
import { compareCommand } from './compare';
import { exportCommand } from './export';
import { exportPytorchCommand } from './exportPytorch';
import { predictCommand } from './predict';
import { lrFindCommand } from './lrFind';
import { runs } from './runs';
import { serve } from './serve';
import { trainCommand } from './train';

export type Command = (args: string[]) => Promise<number>;
export const COMMANDS: Record<string, Command> = {
  train: trainCommand,
  compare: compareCommand,
  bench: benchCommand,
  'check-reference': checkReferenceCommand,
  serve,
  runs,
  export: exportCommand,
  'export-pytorch': exportPytorchCommand,
  predict: predictCommand,
  'lr-find': lrFindCommand,
};
