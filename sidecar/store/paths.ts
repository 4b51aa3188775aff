// The one path helper (DESIGN.md "Security of the local server"): every path that arrives from the wire,
// a setting or a flag goes through here. NUL bytes are refused, paths are resolved with realpath, and a
// run id must resolve inside the runs folder: a run id is a name, never a path, and a symlink that leads
// out of the runs folder is refused like `../x`.
import { randomBytes } from 'node:crypto';
import { lstatSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../errors';

export const RUN_ID_PATTERN = /^[A-Za-z0-9._-]+$/;
export const RUN_ID_MAX_LENGTH = 128;

export interface TrainerHome {
  runsDir: string;
  cacheDir: string;
}

/** The default folders: `ADAM_TRAINER_HOME` moves both (to `$HOME/runs` and `$HOME/cache`). */
export function adamTrainerHome(env: NodeJS.ProcessEnv = process.env): TrainerHome {
  const home = env.ADAM_TRAINER_HOME;
  if (home) {
    const root = resolveUserPath(home, 'ADAM_TRAINER_HOME');
    return { runsDir: join(root, 'runs'), cacheDir: join(root, 'cache') };
  }
  return { runsDir: join(homedir(), '.adam-trainer', 'runs'), cacheDir: join(homedir(), '.cache', 'adam-trainer') };
}

/**
 * A user's path made absolute: NUL bytes refused, resolved against the working directory, and symlinks
 * resolved when the path exists (when it does not, its nearest existing parent is resolved, so a file about
 * to be written lands where the user's symlinked folder points).
 */
export function resolveUserPath(p: string, what = 'path'): string {
  if (typeof p !== 'string' || p.length === 0) throw new UserError('bad_path', `${what} must be a non-empty path`);
  if (p.includes('\0')) throw new UserError('bad_path', `${what} must not contain NUL bytes`);
  const absolute = resolve(p);
  return realpathOrNearest(absolute);
}

/**
 * A file about to be written: its folder resolved as resolveUserPath does (a symlinked folder is the user's choice),
 * the name itself never followed. An output name that is a symbolic link would make the write land wherever the link
 * points (a planted `out.safetensors -> ~/.bashrc`), so it is refused, as is a folder.
 */
export function resolveOutputPath(p: string, what = 'output file'): string {
  const given = resolveUserPath(p, what); // NUL bytes refused, made absolute
  const out = join(realpathOrNearest(dirname(resolve(p))), basename(resolve(p)));
  let isLink = false;
  let isDir = false;
  try {
    const st = lstatSync(out);
    isLink = st.isSymbolicLink();
    isDir = st.isDirectory();
  } catch {
    return out; // a new file
  }
  if (isLink) throw new UserError('bad_path', `${what} ${out} is a symbolic link (to ${given}); it is not written through: remove the link or choose another name`);
  if (isDir) throw new UserError('bad_path', `${what} ${out} is a folder; give a file name`);
  return out;
}

function realpathOrNearest(absolute: string): string {
  try {
    return realpathSync.native(absolute);
  } catch {
    const parent = dirname(absolute);
    if (parent === absolute) return absolute;
    return join(realpathOrNearest(parent), basename(absolute));
  }
}

/** Checks a run id's spelling (a name of letters, digits, `.`, `_`, `-`; not `.` or `..`). */
export function checkRunId(runId: unknown): string {
  if (
    typeof runId !== 'string' ||
    runId.length === 0 ||
    runId.length > RUN_ID_MAX_LENGTH ||
    !RUN_ID_PATTERN.test(runId) ||
    runId === '.' ||
    runId === '..'
  ) {
    throw new UserError('bad_path', `run id must be a name of letters, digits, '.', '_' or '-' (not a path), got ${JSON.stringify(String(runId).slice(0, 80))}`);
  }
  return runId;
}

/** The folder of one run, refused unless its real path lies inside the real runs folder. */
export function runDir(runsDir: string, runId: string): string {
  checkRunId(runId);
  const root = resolveUserPath(runsDir, 'runs folder');
  const dir = realpathOrNearest(join(root, runId));
  if (!isInside(root, dir) || dir === root) {
    throw new UserError('bad_path', `run ${runId} resolves outside the runs folder ${root}; refused`);
  }
  return dir;
}

/** True when `child` is `parent` or lies below it (both already real, absolute paths). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel));
}

/**
 * A new run id that sorts by creation time: UTC date and time, then 6 random hex digits so two runs started
 * in the same second (in two windows) do not collide. UTC so the order survives daylight-saving changes.
 */
export function newRunId(now: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${p(now.getUTCFullYear(), 4)}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${date}-${time}-${randomBytes(3).toString('hex')}`;
}
