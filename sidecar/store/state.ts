// What a checkpoint holds (DESIGN.md "Nothing lost"): everything needed to continue the same run bit for
// bit. The trainer produces and consumes this; sidecar/store/checkpoint.ts encodes it to disk.
import type { RunConfig } from '../protocol';
import type { RngState } from '../rng';

export interface TrainingState {
  runId: string;
  config: RunConfig; // the configuration with the CURRENT (possibly edited) hyperparameters
  step: number; // optimizer steps taken so far (Adam's t)
  epoch: number; // 0-based epoch the data cursor is in
  cursor: number; // index into this epoch's permutation of the next sample to draw
  rng: RngState; // state of the data-order RNG after drawing this epoch's permutation
  permutation: Uint32Array; // this epoch's order of the training set
  params: Float32Array; // PARAMETER_COUNT floats, state_dict order
  m: Float32Array; // Adam first moment (or SGD momentum buffer)
  v: Float32Array; // Adam second moment (zeros for SGD)
  vMax: Float32Array; // AMSGrad running max (zeros otherwise)
  lossSum: number; // training loss summed over the steps since the last logEvery multiple (so resumed JSON lines equal the uninterrupted run's)
  lossCount: number;
  parentRunId?: string;
  forkStep?: number;
  datasetId?: string;
  augmentSeed?: number; // augment flip-crop: the seed of this epoch's flips and crops (data/augment.ts), drawn after the permutation // identifies the training data (count + source) so a resume on other data is refused
}
