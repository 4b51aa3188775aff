// The system programs the tests run, found as `npm test`'s first step (scripts/setup.mjs, which mirrors these
// two lines) finds them: CHROMIUM_PATH and PYTHON choose others. That step has checked both before any test
// starts, so a test uses them without checking again.
import { spawn } from 'node:child_process';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';


/** What a PYTHON process printed, and how it ended. */
export interface Python {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs PYTHON with `args` to its end. */
export function python(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Python> {
  return pythonProcess(args, env).done;
}

/** Starts PYTHON with `args`: its end, and ways to stop it (DDP jobs end their other ranks when one fails). */
export function pythonProcess(args: string[], env: NodeJS.ProcessEnv = {}): { done: Promise<Python>; kill: () => void; dumpStacks: () => void } {
  // PYTHONFAULTHANDLER: on SIGABRT, Python writes every thread's stack to stderr before it dies.
  const child = spawn(PYTHON, args, { env: { ...process.env, PYTHONFAULTHANDLER: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return {
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
    kill: () => child.kill('SIGKILL'),
    dumpStacks: () => child.kill('SIGABRT'),
  };
}
