// Installs code-server 4.100.3 (VS Code 1.100) into <repo>/.e2e/code-server, outside the repository's own
// node_modules, once: a later call finds the `.ready` stamp and returns at once. System packages are
// checked, never installed here (.ci/run does the apt part).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';

export function missingSystemPackages() {
  const missing = [];
  if (!findChromium()) missing.push('chromium');
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libkrb5.so') && !existsSync('/usr/lib/aarch64-linux-gnu/libkrb5.so')) missing.push('libkrb5-dev');
  if (!onPath('rg')) missing.push('ripgrep');
  // node-pty, spdlog and kerberos are compiled by `npm rebuild` (node-gyp).
  if (!onPath('make') || !onPath('g++')) missing.push('build-essential');
  if (!onPath('python3')) missing.push('python3');
  return missing;
}

export function findChromium() {
  if (process.env.CHROMIUM && existsSync(process.env.CHROMIUM)) return process.env.CHROMIUM;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  return null;
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

function run(cmd, args, cwd, log) {
  log(`  $ (cd ${cwd} && ${cmd} ${args.join(' ')})`);
  // node-pty's install runs `npx node-gyp`: npm_config_yes keeps it from prompting.
  execFileSync(cmd, args, {
    cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_yes: 'true', npm_config_fund: 'false', npm_config_audit: 'false',
      npm_config_update_notifier: 'false' },
  });
}

function relink(target, linkPath) {
  try { lstatSync(linkPath); rmSync(linkPath, { recursive: true, force: true }); } catch { /* absent */ }
  symlinkSync(target, linkPath);
}

/** Returns the path of the `code-server` launcher, installing it first when needed. */
export function ensureCodeServer(repoRoot, log = console.log) {
  const home = join(repoRoot, '.e2e', 'code-server');
  const pkg = join(home, 'node_modules', 'code-server');
  const bin = join(pkg, 'out', 'node', 'entry.js');
  const stamp = join(home, '.ready');
  // Native modules are built for one Node ABI: another Node means another build.
  const stampText = `code-server ${CODE_SERVER_VERSION}, node ABI ${process.versions.modules}`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === stampText && existsSync(bin)) return bin;

  const missing = missingSystemPackages();
  if (missing.length) throw new Error(`missing system packages: ${missing.join(' ')} (apt-get install -y ${missing.join(' ')})`);
  log(`e2e setup: installing code-server ${CODE_SERVER_VERSION} into ${home}`);
  const t0 = Date.now();
  rmSync(stamp, { force: true });
  mkdirSync(home, { recursive: true });
  if (!existsSync(join(home, 'package.json'))) writeFileSync(join(home, 'package.json'), '{"name":"e2e-code-server","private":true}\n');
  run('npm', ['install', '--no-save', '--ignore-scripts', `code-server@${CODE_SERVER_VERSION}`], home, log);
  // A plain `npm rebuild` here fails as root in code-server's own post-install ("Please pass --unsafe-perm"):
  // rebuild only argon2, then do what that post-install would do by hand.
  run('npm', ['rebuild', 'argon2'], home, log);
  const vscode = join(pkg, 'lib', 'vscode');
  run('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-save'], vscode, log);
  const rgDir = join(vscode, 'node_modules', '@vscode', 'ripgrep', 'bin');
  mkdirSync(rgDir, { recursive: true });
  relink(execFileSync('sh', ['-c', 'command -v rg']).toString().trim(), join(rgDir, 'rg'));
  run('npm', ['rebuild'], vscode, log);
  relink('node_modules', join(vscode, 'node_modules.asar'));
  relink('code-linux.sh', join(vscode, 'bin', 'remote-cli', 'code-server'));
  relink('browser-linux.sh', join(vscode, 'bin', 'helpers', 'browser.sh'));
  const builtins = join(vscode, 'extensions');
  run('npm', ['install', '--ignore-scripts', '--no-save'], builtins, log);
  run('npm', ['rebuild'], builtins, log);
  if (!existsSync(bin)) throw new Error(`code-server install incomplete: ${bin} is missing`);
  writeFileSync(stamp, `${stampText}\n`);
  log(`e2e setup: code-server ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
  try {
    console.log(ensureCodeServer(root));
  } catch (err) {
    console.error(String(err?.stderr ?? ''), String(err?.message ?? err));
    process.exit(1);
  }
}
