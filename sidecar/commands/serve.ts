// `adam-trainer serve`: the sidecar as a service (DESIGN.md "Command line"). The first stdout line is the
// `listening` handshake, read by the parent and never logged: it is the only place the token appears.
// With --exit-with-parent (what the extension uses) it exits when its stdin closes or its IPC channel
// disconnects, as language servers do; always on SIGTERM or SIGINT; each time after checkpointing the
// runs it trains, so a restarted sidecar can resume them.
import { existsSync, lstatSync, mkdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { datasetPool } from '../data/pool';
import { UserError } from '../errors';
import type { Listening } from '../protocol';
import { MAX_SOCKET_PATH_BYTES } from '../server/socketPath';
import { dashboardDir, startServer } from '../server';
import { cleanAbandonedWrites } from '../store/checkpoint';
import { adamTrainerHome, resolveUserPath } from '../store/paths';
import { parseFlags } from './args';

const HELP = `usage: adam-trainer serve [--runs-dir DIR] [--cache-dir DIR] [--exit-with-parent] [--max-runs N] [--socket PATH [--remove-socket-folder]]

Starts the sidecar on 127.0.0.1 (a free port): the WebSocket and the dashboard. The first line on stdout is
{"type":"listening","port":P,"token":"T","url":"ws://127.0.0.1:P/?token=T"}; the dashboard is at
http://127.0.0.1:P/?token=T.

  --runs-dir DIR       runs folder (default ~/.adam-trainer/runs, or $ADAM_TRAINER_HOME/runs)
  --cache-dir DIR      downloads and decoded datasets (default ~/.cache/adam-trainer, or $ADAM_TRAINER_HOME/cache)
  --exit-with-parent   exit when stdin closes or the IPC channel disconnects
  --max-runs N         most runs training at once, 1..64 (default 4); one more gets the error too_many_runs
  --socket PATH        listen on a Unix domain socket at PATH (a new file) instead of a port: the WebSocket only,
                       no dashboard pages. The line is then {"type":"listening","port":0,"socket":PATH,"token":"T",
                       "url":"ws+unix://PATH:/?token=T"}. Not on Windows.
  --remove-socket-folder  also remove the socket's folder as the sidecar exits, if nothing else is in it (the
                       extension makes a private folder for each sidecar; this removes it even when the extension
                       host was killed and the sidecar exits with its parent)
`;

/** The checked path for --socket, or a UserError that says what is wrong with it. */
function socketPathOf(given: string): string {
  if (process.platform === 'win32') throw new UserError('bad_usage', '--socket needs Unix domain sockets, which this sidecar does not use on Windows; leave it out to listen on a port');
  const path = resolveUserPath(given, '--socket');
  // ws reads a socket URL as the socket's path up to the first colon, then the request's path.
  if (path.includes(':')) throw new UserError('bad_usage', `--socket ${path} has a colon, which a ws+unix URL cannot carry; choose a path without one`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) throw new UserError('bad_usage', `--socket ${path} is ${bytes} bytes long; a Unix domain socket's path may have at most ${MAX_SOCKET_PATH_BYTES}`);
  if (existsSync(path)) throw new UserError('bad_usage', `--socket ${path} already exists; the sidecar creates the socket itself and removes it when it exits`);
  if (!existsSync(dirname(path))) throw new UserError('bad_usage', `--socket ${path}: its folder ${dirname(path)} does not exist`);
  return path;
}

/**
 * As the process exits: the socket, if it is still there (a shutdown that ran past its deadline never closed the
 * server, which removes it), and with `folder` the folder around it, which rmdir leaves alone unless it is empty.
 */
function removeSocket(path: string, folder: boolean): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already removed by the server's close
  }
  if (!folder) return;
  try {
    rmdirSync(dirname(path));
  } catch {
    // not empty (someone else's file), or already removed by the extension
  }
}

/** How long a shutdown may take, checkpoints included, before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 4500;

export async function serve(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, {
    'runs-dir': { kind: 'string' },
    'cache-dir': { kind: 'string' },
    'exit-with-parent': { kind: 'boolean' },
    'max-runs': { kind: 'int', check: (v) => (Number(v) >= 1 && Number(v) <= 64 ? undefined : `--max-runs must be an integer in 1..64, got ${v}`) },
    socket: { kind: 'string' },
    'remove-socket-folder': { kind: 'boolean' },
    help: { kind: 'boolean' },
  });
  if (flags.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const home = adamTrainerHome();
  const runsDir = resolveUserPath(String(flags['runs-dir'] ?? home.runsDir), '--runs-dir');
  const cacheDir = resolveUserPath(String(flags['cache-dir'] ?? home.cacheDir), '--cache-dir');
  for (const [flag, dir] of [['--runs-dir', runsDir], ['--cache-dir', cacheDir]]) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UserError('bad_usage', `${flag} ${dir} cannot be created: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  // A parent that goes away breaks our stdout; that is a reason to exit, never a crash.
  process.stdout.on('error', () => undefined);
  const notice = (line: string) => process.stderr.write(`adam-trainer serve: ${line}\n`);
  datasetPool.log = notice;
  // What a killed writer left behind (a checkpoint's temporary file) goes before anything is written again.
  for (const path of await cleanAbandonedWrites(runsDir)) notice(`removed ${path}, left by a write that was killed`);
  const socketPath = flags.socket !== undefined ? socketPathOf(String(flags.socket)) : undefined;
  if (flags['remove-socket-folder'] && socketPath === undefined) throw new UserError('bad_usage', '--remove-socket-folder goes with --socket PATH');
  const maxRuns = flags['max-runs'] as number | undefined;
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ runsDir, cacheDir, host: '127.0.0.1', port: 0, ...(socketPath !== undefined ? { socketPath } : {}), staticDir: dashboardDir(), notice, ...(maxRuns !== undefined ? { maxRuns } : {}) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (socketPath !== undefined && code) throw new UserError('bad_usage', `cannot listen on --socket ${socketPath}: ${code}`);
    throw e;
  }
  if (socketPath !== undefined) process.on('exit', () => removeSocket(socketPath, flags['remove-socket-folder'] === true));
  // The signal handlers go in before the listening line goes out: a parent that stops the sidecar as soon as it has
  // read the line (a test under load did) would otherwise kill it with SIGTERM's default action, unannounced.
  const exit = new Promise<number>((resolveExit) => {
    let stopping = false;
    const shutdown = (why: string) => {
      if (stopping) return;
      stopping = true;
      notice(`${why}: checkpointing and exiting`);
      setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
      server.handler
        .shutdown(SHUTDOWN_DEADLINE_MS - 1000)
        .catch((e: unknown) => notice(`shutdown: ${(e as Error)?.message ?? e}`))
        .then(() => server.close())
        .finally(() => {
          resolveExit(0);
          // Worker threads of runs that were checkpointed but not stopped would keep the process alive.
          setTimeout(() => process.exit(0), 200).unref();
        });
    };
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
    if (flags['exit-with-parent']) {
      process.stdin.on('end', () => shutdown('stdin closed'));
      process.stdin.on('close', () => shutdown('stdin closed'));
      process.stdin.on('error', () => shutdown('stdin failed'));
      process.stdin.resume();
      if (process.send) process.on('disconnect', () => shutdown('parent disconnected'));
    }
  });
  const listening: Listening = { type: 'listening', port: server.port, ...(socketPath !== undefined ? { socket: socketPath } : {}), token: server.token, url: server.url };
  process.stdout.write(JSON.stringify(listening) + '\n');
  notice(`listening on ${socketPath ?? `127.0.0.1:${server.port}`}, runs in ${runsDir}`);
  return exit;
}
