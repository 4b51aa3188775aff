// Where the small real CIFAR-10 sample shipped with the repository (data/sample) is. This file runs from
// source (sidecar/data/, two levels below the root, through tsx) and bundled into dist/cli.js (one level
// below), so the nearest ancestor holding data/sample wins.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors';

export function sampleDir(): string {
  const tried: string[] = [];
  for (let up = 1; up <= 3; up++) {
    const candidate = resolve(__dirname, ...Array<string>(up).fill('..'), 'data', 'sample');
    if (existsSync(join(candidate, 'train'))) return candidate;
    tried.push(candidate);
  }
  throw new UserError('bad_dataset', `the built-in sample is missing (looked in ${tried.join(', ')}); pass --data DIR`);
}
