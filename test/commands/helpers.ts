// Runs the real command line (the built bin) as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tempDir as storeTempDir } from '../store/helpers';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'adam-trainer.js');

/**
 * A fresh temporary folder, removed when the test process exits. (They were left behind: 321 of them, 27 GiB of
 * caches and runs, had piled up in the system's temporary folder of a machine that ran `npm test` and filled its disk.)
 */
export function tempDir(prefix = 'adam-cli-'): string {
  return storeTempDir(prefix);
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: Array<Record<string, unknown>>;
}

export function start(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const lines = stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, stdout, stderr, lines });
    });
  });
}

export function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const child = start(args, env);
  return collect(child);
}

export function runText(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
