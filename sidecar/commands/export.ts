// `adam-trainer export CHECKPOINT OUT.safetensors`: the parameters under PyTorch's state_dict names and
// shapes, for `safetensors.torch.load_file` and `Net().load_state_dict`.
import { UserError } from '../errors';
import { PARAMETERS } from '../nn/spec';
import { readCheckpoint } from '../store/checkpoint';
import { resolveOutputPath } from '../store/paths';
import { exportSafetensors } from '../store/safetensors';
import { parseFlags } from './args';

const HELP = `usage: adam-trainer export CHECKPOINT OUT.safetensors

Writes the parameters of a .ckpt checkpoint in the safetensors format, under PyTorch's state_dict names:
  from safetensors.torch import load_file; net.load_state_dict(load_file("OUT.safetensors"))
`;

export async function exportCommand(args: string[]): Promise<number> {
  const { flags, positionals } = parseFlags(args, { help: { kind: 'boolean' } }, true);
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 2) throw new UserError('bad_usage', `export takes a checkpoint and an output file, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}; usage: adam-trainer export CHECKPOINT OUT.safetensors`);
  const state = readCheckpoint(positionals[0]);
  const out = resolveOutputPath(positionals[1], 'output file');
  try {
    exportSafetensors(state.params, out, { format: 'pt', runId: state.runId, step: String(state.step), optimizer: state.config.optimizer });
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError('bad_path', `cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stdout.write(`wrote ${out}: ${PARAMETERS.length} tensors, ${state.params.length} parameters (run ${state.runId}, step ${state.step})\n`);
  return 0;
}
