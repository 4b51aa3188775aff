// A run's mailbox: what its owner (the command line, a WebSocket client, a shutdown) asks of the training loop,
// which takes each request at its next step boundary. Posting a request wakes a loop that waits while paused.
import type { Split } from './data';

/** A run's parameters as of a step boundary (a copy: the run trains on undisturbed) and its test split. */
export interface LiveWeights {
  step: number;
  params: Float32Array;
  test: Split;
}

export class RunControl {
  stop = false;
  pause = false;
  /** End at the next boundary after a checkpoint, recording no state (a shutdown: the next sidecar resumes it). */
  halt = false;
  evaluate = false;
  /** Each resolves with the path of a step-<N>.ckpt written at the next boundary. */
  readonly checkpoints: Array<(path: string) => void> = [];
  /** Each resolves with a copy of the parameters taken at the next boundary (predictions.ts); null: the run ended first. */
  readonly weightReaders: Array<(weights: LiveWeights | null) => void> = [];
  private wake: (() => void) | null = null;

  /** Something was posted: a loop waiting in `whilePaused` goes on. */
  poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Resolves when the run should stop waiting: resumed, stopped or halted (or anything else was posted). */
  whilePaused(): Promise<void> {
    return new Promise<void>((r) => {
      if (this.stop || this.halt || !this.pause) r();
      else this.wake = r;
    });
  }
}
