// Builds everything the product runs from dist/: the WebAssembly kernels (AssemblyScript), the sidecar's
// command line and worker bundles, the extension bundle and the dashboard bundle. Fast enough to run
// before every `npm test` and `npm start`.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
mkdirSync(join(dist, 'webview'), { recursive: true });

// Kernels: one build with relaxed SIMD (fused multiply-add) and one plain-SIMD build; the loader picks by
// feature test at run time.
const kernelEntry = join(root, 'sidecar', 'kernels', 'assembly', 'index.ts');
if (existsSync(kernelEntry)) {
  const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  const common = [kernelEntry, '-O3', '--runtime', 'stub', '--noAssert', '--importMemory', '--sharedMemory',
    '--initialMemory', '1', '--maximumMemory', '16384', '--enable', 'simd', '--enable', 'threads'];
  execFileSync(process.execPath, [asc, ...common, '-o', join(dist, 'kernels-simd.wasm'), '--use', 'RELAXED=0'], { stdio: 'inherit' });
  execFileSync(process.execPath, [asc, ...common, '--enable', 'relaxed-simd', '-o', join(dist, 'kernels-relaxed.wasm'), '--use', 'RELAXED=1'], { stdio: 'inherit' });
}

const node = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
const entries = [
  { entryPoints: [join(root, 'sidecar', 'cli.ts')], outfile: join(dist, 'cli.js'), ...node },
  { entryPoints: [join(root, 'sidecar', 'parallel', 'worker.ts')], outfile: join(dist, 'worker.js'), ...node },
  { entryPoints: [join(root, 'extension', 'extension.ts')], outfile: join(dist, 'extension.js'), external: ['vscode'], ...node },
  { entryPoints: [join(root, 'webview', 'main.ts')], outfile: join(dist, 'webview', 'dashboard.js'), bundle: true,
    platform: 'browser', target: 'es2022', format: 'iife', sourcemap: true, minify: true, logLevel: 'warning' },
];
await Promise.all(entries.filter((e) => existsSync(e.entryPoints[0])).map((e) => build(e)));
const webStatic = join(root, 'webview', 'static');
if (existsSync(webStatic)) for (const f of readdirSync(webStatic)) copyFileSync(join(webStatic, f), join(dist, 'webview', f));
