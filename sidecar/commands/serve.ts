// `adam-trainer serve`: the sidecar as a service (DESIGN.md "Command line"). The first stdout line is the
// `listening` handshake, read by the parent and never logged: it is the only place the token appears.
// With --exit-with-parent (what the extension uses) it exits when its stdin closes or its IPC channel
// disconnects, as language servers do; always on SIGTERM or SIGINT; each time after checkpointing the
// runs it trains, so a restarted sidecar can resume them.
import { mkdirSync } from 'node:fs';
import { datasetPool } from '../data/pool';
import { UserError } from '../errors';
import type { Listening } from '../protocol';
import { dashboardDir, startServer } from '../server';
import { cleanAbandonedWrites } from '../store/checkpoint';
import { adamTrainerHome, resolveUserPath } from '../store/paths';
import { parseFlags } from './args';

const HELP = `usage: adam-trainer serve [--runs-dir DIR] [--cache-dir DIR] [--exit-with-parent] [--max-runs N]

Starts the sidecar on 127.0.0.1 (a free port): the WebSocket and the dashboard. The first line on stdout is
{"type":"listening","port":P,"token":"T","url":"ws://127.0.0.1:P/?token=T"}; the dashboard is at
http://127.0.0.1:P/?token=T.

  --runs-dir DIR       runs folder (default ~/.adam-trainer/runs, or $ADAM_TRAINER_HOME/runs)
  --cache-dir DIR      downloads and decoded datasets (default ~/.cache/adam-trainer, or $ADAM_TRAINER_HOME/cache)
  --exit-with-parent   exit when stdin closes or the IPC channel disconnects
  --max-runs N         most runs training at once, 1..64 (default 4); one more gets the error too_many_runs
`;

/** How long a shutdown may take, checkpoints included, before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 4500;

export async function serve(args: string[]): Promise<number> {
  const { flags } = parseFlags(args, {
    'runs-dir': { kind: 'string' },
    'cache-dir': { kind: 'string' },
    'exit-with-parent': { kind: 'boolean' },
    'max-runs': { kind: 'int', check: (v) => (Number(v) >= 1 && Number(v) <= 64 ? undefined : `--max-runs must be an integer in 1..64, got ${v}`) },
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
  const maxRuns = flags['max-runs'] as number | undefined;
  const server = await startServer({ runsDir, cacheDir, host: '127.0.0.1', port: 0, staticDir: dashboardDir(), notice, ...(maxRuns !== undefined ? { maxRuns } : {}) });
  const listening: Listening = { type: 'listening', port: server.port, token: server.token, url: server.url };
  process.stdout.write(JSON.stringify(listening) + '\n');
  notice(`listening on 127.0.0.1:${server.port}, runs in ${runsDir}`);

  return new Promise<number>((resolveExit) => {
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
}
