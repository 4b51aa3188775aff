// Small synthetic datasets placed in the session's shared memory, for engine tests that need many
// sessions quickly. (Real-image loading is tested in test/data; real training on the shipped sample in test/cli.)
import type { Dataset } from '../../sidecar/data';
import type { SharedArena } from '../../sidecar/parallel/arena';
import { resolveConfig, type StartConfig } from '../../sidecar/protocol';
import { Rng } from '../../sidecar/rng';
import { TrainingSession, type EngineKind, type SessionOptions } from '../../sidecar/session';

export function syntheticDataset(trainCount: number, testCount: number, seed = 1): (arena: SharedArena) => Dataset {
  return (arena) => {
    const rng = new Rng(seed);
    const split = (count: number) => {
      const images = arena.allocU8(count * 3072).view;
      const labels = arena.allocU8(count).view;
      for (let i = 0; i < count; i++) {
        const label = rng.nextInt(10);
        labels[i] = label;
        // Learnable: the class sets the mean brightness of one colour channel.
        for (let j = 0; j < 3072; j++) images[i * 3072 + j] = Math.min(255, rng.nextInt(128) + (Math.floor(j / 1024) === label % 3 ? label * 12 : 0));
      }
      return { images, labels, count };
    };
    return { train: split(trainCount), test: split(testCount), source: 'synthetic' };
  };
}

export function session(config: StartConfig, opts: { engine?: EngineKind; train?: number; test?: number; threads?: SessionOptions['threads'] } = {}): Promise<TrainingSession> {
  return TrainingSession.create({
    config: resolveConfig(config, 2),
    cacheDir: '',
    engine: opts.engine ?? 'wasm',
    dataset: syntheticDataset(opts.train ?? 512, opts.test ?? 64),
    threads: opts.threads,
  });
}

export async function losses(s: TrainingSession, steps: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < steps) out.push(...(await s.trainChunk(steps - out.length)).losses);
  return out;
}
