// `npm run test:e2e`: the extension as a user meets it. Packages the .vsix, installs it into code-server
// 4.100.3 (VS Code 1.100; installed once into .e2e/code-server), and drives the workbench with Debian's
// Chromium through playwright-core. Each scenario gets a fresh code-server; screenshots go to
// test-results/e2e/. A failure prints the extension's output channel (with the sidecar's stderr) and the
// browser console. Last line: "N passed, N failed"; the exit code is non-zero on failure.
//
//   node test/e2e/run.mjs [name...]     only the scenarios named (train, learning-rate, ...)
//   E2E_VSIX=path.vsix                  use this package instead of building one
//   E2E_KEEP=1                          keep the temp folder (code-server's user data, logs, runs)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CodeServer, installExtension, isolatedEnv } from './codeServer.mjs';
import { scenarios } from './scenarios.mjs';
import { ensureCodeServer, findChromium, missingSystemPackages } from './setup.mjs';
import { CHROMIUM_ARGS, sidecarProcesses, Workbench } from './workbench.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const results = join(root, 'test-results', 'e2e');
const SCENARIO_TIMEOUT_MS = 150_000;
const t0 = Date.now();
const elapsed = (from = t0) => `${((Date.now() - from) / 1000).toFixed(1)} s`;

function fail(message) {
  console.error(`e2e: ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

/** `npm run package` into the temp folder (vsce's `-o`), unless E2E_VSIX names a package already made. */
function packageVsix(tmp) {
  if (process.env.E2E_VSIX) {
    if (!existsSync(process.env.E2E_VSIX)) fail(`E2E_VSIX=${process.env.E2E_VSIX} does not exist`);
    return process.env.E2E_VSIX;
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (!pkg.contributes?.commands?.some((c) => c.command === 'adamTrainer.train')) {
    fail('package.json has no "contributes" with adamTrainer.train: merge extension/package.contributes.json into it first (or set E2E_VSIX)');
  }
  if (!pkg.scripts?.package) fail('package.json has no "package" script (vsce) to build the .vsix with (or set E2E_VSIX)');
  const out = join(tmp, `${pkg.name}-${pkg.version}.vsix`);
  console.log(`e2e: npm run package -- -o ${out}`);
  try {
    execFileSync('npm', ['run', 'package', '--', '-o', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n').filter((l) => !/^\s*[│├└]/.test(l)).slice(-30).join('\n');
    fail(`npm run package failed:\n${output}`);
  }
  if (!existsSync(out)) fail(`npm run package did not write ${out}`);
  return out;
}

function baseSettings() {
  return {
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'git.enabled': false,
    'chat.commandCenter.enabled': false,
    'adamTrainer.dataPath': 'sample', // the shipped sample (data/sample.tar.gz, extracted into the extension's storage)
    'adamTrainer.batchSize': 4,
  };
}

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function indent(text, prefix = '    ') {
  return text.replace(/\n+$/, '').split('\n').map((l) => prefix + l).join('\n');
}

async function runScenario(s, index, ctx) {
  const number = String(index + 1).padStart(2, '0');
  const tmp = join(ctx.tmp, `${number}-${s.name}`);
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  let cs;
  let wb;
  let context;
  let error;
  console.log(`\n▶ ${number} ${s.name}: ${s.title}`);
  try {
    cs = await CodeServer.start({
      bin: ctx.codeServer, tmp, extensionsDir: ctx.extensionsDir, workspace: join(tmp, 'workspace'),
      settings: { ...baseSettings(), ...s.settings },
    });
    context = await ctx.browser.newContext({ viewport: { width: 1600, height: 1000 } });
    wb = new Workbench(await context.newPage());
    await wb.open(cs.workbenchUrl);
    const t = {
      wb, cs, tmp,
      // Every path the sidecar is started with lies under the scenario's temp folder.
      marker: tmp,
      log: (line) => console.log(`    ${elapsed(started).padStart(7)}  ${line}`),
      shot: async (suffix) => {
        const path = join(results, `${number}-${s.name}-${suffix}.png`);
        await wb.screenshot(path);
        console.log(`    screenshot ${path.slice(root.length + 1)}`);
      },
    };
    await withTimeout(s.run(t), SCENARIO_TIMEOUT_MS, `scenario ${s.name}`);
  } catch (e) {
    error = e;
  }
  if (error) {
    console.log(`✗ ${number} ${s.name} (${elapsed(started)})`);
    console.log(indent(String(error.stack ?? error)));
    if (wb && !wb.page.isClosed()) {
      const path = join(results, `${number}-${s.name}-failure.png`);
      await wb.screenshot(path).then(() => console.log(`    screenshot ${path.slice(root.length + 1)}`), () => undefined);
      const toasts = await wb.notifications().catch(() => []);
      if (toasts.length) console.log(`    notifications:\n${indent(toasts.join('\n'), '      ')}`);
    }
    if (cs) console.log(`    output channel "Train with Adam" (the extension's log and the sidecar's stderr):\n${indent(cs.outputChannel() || '(empty)', '      | ')}`);
    if (wb) console.log(`    browser console (last 80 lines):\n${indent(wb.console.slice(-80).join('\n') || '(empty)', '      | ')}`);
    if (cs && cs.output) console.log(`    code-server output (last 40 lines):\n${indent(cs.output.split('\n').slice(-40).join('\n'), '      | ')}`);
  } else {
    console.log(`✓ ${number} ${s.name} (${elapsed(started)})`);
  }
  await context?.close().catch(() => undefined);
  await cs?.killGroup();
  // Nothing may outlive its scenario; a leftover here is reported (scenario 6 is the one that fails on it).
  for (const p of sidecarProcesses(tmp)) {
    console.log(`    leftover sidecar after the scenario, killed: ${p.pid} ${p.args}`);
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  return !error;
}

async function main() {
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) fail(`unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  const missing = missingSystemPackages();
  if (missing.length) fail(`missing system packages: ${missing.join(' ')}. Install them with: apt-get install -y ${missing.join(' ')}`);

  // A full run starts from an empty results folder; a partial one replaces only its scenarios' pictures.
  if (only.length === 0) rmSync(results, { recursive: true, force: true });
  mkdirSync(results, { recursive: true });
  for (const f of readdirSync(results)) if (only.some((n) => f.slice(3).startsWith(`${n}-`))) rmSync(join(results, f));
  const tmp = mkdtempSync(join(tmpdir(), 'adam-e2e-'));
  const vsix = packageVsix(tmp);
  let codeServer;
  try {
    codeServer = ensureCodeServer(root, (l) => console.log(l));
  } catch (e) {
    fail(`could not install code-server: ${e.message}\n${e.stderr ?? ''}`);
  }
  const extensionsDir = join(tmp, 'extensions');
  try {
    installExtension(codeServer, vsix, { extensionsDir, userDataDir: join(tmp, 'install-user-data'), env: isolatedEnv(join(tmp, 'install')) });
  } catch (e) {
    fail(`code-server --install-extension ${vsix} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  console.log(`e2e: ready in ${elapsed()} (code-server ${codeServer.replace(root + '/', '')}, ${vsix.replace(tmp, '<tmp>')})`);

  const browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
  let passed = 0;
  let failed = 0;
  const chosen = scenarios.map((s, i) => [s, i]).filter(([s]) => only.length === 0 || only.includes(s.name));
  try {
    for (const [s, i] of chosen) {
      if (await runScenario(s, i, { tmp, codeServer, extensionsDir, browser })) passed++;
      else failed++;
    }
  } finally {
    await browser.close().catch(() => undefined);
    if (process.env.E2E_KEEP || failed) console.log(`\ne2e: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`\ne2e: ${elapsed()} in all; screenshots in ${results.slice(root.length + 1)}/`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => fail(e.stack ?? String(e)));
