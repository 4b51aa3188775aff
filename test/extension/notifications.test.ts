// Text from files reaches VS Code's notifications and tooltips as text: a dataset whose folder and file are named like
// command links (`[x](command:…)`, which a notification renders as a link that runs the command) fails to load, and
// the failure is shown naming them, with no link. The sidecar, the run and the files are real; VS Code is the fake.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLASS_NAMES } from '../../sidecar/nn/spec';
import { pngFile } from '../data/helpers';
import { createFakeVscode, fakeContext, installFakeVscode } from './fakeVscode';
import { notificationLinks } from './notificationLinks';

const root = join(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'adam-links-'));
const data = join(scratch, '[shared dataset](command:workbench.action.terminal.new)');
const bad = join(data, 'train', 'cat', '[README](command:workbench.action.terminal.new).png');
const settings: Record<string, unknown> = { dataPath: data, epochs: 1, workers: 1 };
const fake = createFakeVscode(settings);
installFakeVscode(fake.vscode);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const extension = require('../../extension/extension') as typeof import('../../extension/extension');

before(() => {
  if (!existsSync(join(root, 'dist', 'cli.js'))) assert.equal(spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' }).status, 0);
  for (const split of ['train', 'test']) {
    for (const c of CLASS_NAMES) {
      mkdirSync(join(data, split, c), { recursive: true });
      writeFileSync(join(data, split, c, '0000.png'), pngFile(32, 32, 2, (i) => [i & 255, 128, 64, 255]));
    }
  }
  writeFileSync(bad, 'not an image');
  extension.activate(fakeContext(root, join(scratch, 'storage')) as never);
});

after(async () => {
  await extension.deactivate();
  rmSync(scratch, { recursive: true, force: true });
});

test('a run that fails on a file named like a command link says so, naming the file, with no link in the notification', { timeout: 60_000 }, async () => {
  await fake.vscode.commands.executeCommand('adamTrainer.train');
  const deadline = Date.now() + 45_000;
  while (!fake.shown.some((s) => s.kind === 'error') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const error = fake.shown.find((s) => s.kind === 'error');
  assert.ok(error, `an error was shown; shown: ${JSON.stringify(fake.shown)}`);
  assert.match(error.text, /failed/);
  assert.ok(error.text.includes(bad.replaceAll('](', ']\\(')), error.text);
  assert.deepEqual(notificationLinks(error.text), []);
  for (const s of fake.shown) assert.deepEqual(notificationLinks(s.text), [], s.text);

  const view = fake.treeViews.get('adamTrainer.runs')!.treeDataProvider;
  const node = (view.getChildren() as Array<{ kind: string }>).find((n) => n.kind === 'run')!;
  const tooltip = String((view.getTreeItem(node).tooltip as { value: string }).value);
  assert.ok(tooltip.includes('\\[shared dataset\\]\\(command\\:workbench\\.action\\.terminal\\.new\\)'), tooltip);
});
