// Which weights a prediction uses when no live run is asked: a checkpoint file the user names (anywhere; checked
// by format and checksum), or a run id, whose newest checkpoint in the runs folder is taken.
import { existsSync } from 'node:fs';
import { UserError } from '../errors';
import type { RunConfig } from '../protocol';
import { newestCheckpointInAsync, readCheckpointAsync } from '../store/checkpoint';
import { RUN_ID_PATTERN, resolveUserPath, runDir } from '../store/paths';

export interface Weights {
  params: Float32Array;
  step: number;
  runId: string;
  config: RunConfig;
  /** The checkpoint file or run the weights came from, for messages. */
  source: string;
}

export async function weightsFromCheckpoint(file: string): Promise<Weights> {
  const state = await readCheckpointAsync(file);
  return { params: state.params, step: state.step, runId: state.runId, config: state.config, source: resolveUserPath(file, 'checkpoint') };
}

export async function weightsFromRun(runsDir: string, runId: string): Promise<Weights> {
  const dir = runDir(runsDir, runId);
  if (!existsSync(dir)) throw new UserError('unknown_run', `no run ${runId} in ${runsDir}`);
  const state = await newestCheckpointInAsync(dir);
  return { params: state.params, step: state.step, runId: state.runId, config: state.config, source: `run ${runId}` };
}

/** CHECKPOINT|RUN_ID as the command line takes it: an existing file is a checkpoint, a run id's spelling a run. */
export async function weightsFrom(spec: string, runsDir: string): Promise<Weights> {
  if (existsSync(spec)) return weightsFromCheckpoint(spec);
  if (RUN_ID_PATTERN.test(spec) && spec !== '.' && spec !== '..') return weightsFromRun(runsDir, spec);
  throw new UserError('bad_checkpoint', `${spec} is neither a checkpoint file nor a run id`);
}
