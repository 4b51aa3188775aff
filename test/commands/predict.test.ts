// `adam-trainer predict` as a real process: a folder is searched for images, text and JSON lines name each file, and
// bad arguments and files get a sentence and the documented exit code (2 bad usage, 1 a file that failed).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleImages } from '../support/sample';
import { run, runText, tempDir } from './helpers';

const dir = tempDir('adam-predict-cli-');
const checkpoint = join(dir, 'latest.ckpt');

before(async () => {
  const trained = await run(['train', '--data', 'sample', '--max-steps', '200', '--workers', '1', '--checkpoint-dir', dir, '--runs-dir', join(dir, 'runs'), '--cache-dir', join(dir, 'cache'), '--json']);
  assert.equal(trained.code, 0, trained.stderr);
});

test('a folder is searched for .png, .jpg, .jpeg and .webp files, each printed with its top-3 classes', async () => {
  const folder = join(dir, 'pictures');
  mkdirSync(join(folder, 'inner'), { recursive: true });
  copyFileSync(join(sampleImages(), 'test', 'cat', '0000.jpg'), join(folder, 'a.jpg'));
  copyFileSync(join(__dirname, '..', 'fixtures', 'predict', 'my-ship.webp'), join(folder, 'inner', 'b.webp'));
  writeFileSync(join(folder, 'notes.txt'), 'not looked at');
  const json = await run(['predict', checkpoint, folder, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(json.lines.map((l) => l.file), [join(folder, 'a.jpg'), join(folder, 'inner', 'b.webp')]);
  for (const line of json.lines) {
    const top = line.top as Array<{ class: string; probability: number }>;
    assert.equal(top.length, 3);
    assert.ok(top[0].probability >= top[1].probability && top[1].probability >= top[2].probability);
  }
  const text = await runText(['predict', checkpoint, join(folder, 'a.jpg')]);
  assert.match(text.stdout, /step 200: 1 image\n.*a\.jpg: \w+ \d+\.\d%, \w+ \d+\.\d%, \w+ \d+\.\d%\n$/);
});

test('bad arguments exit 2 and bad files exit 1, each with a sentence naming it', async () => {
  const usage = await runText(['predict', checkpoint]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /predict takes a checkpoint or run id and at least one image or folder, got 1 argument/);
  const unknown = await runText(['predict', join(dir, 'no/such.ckpt'), join(dir, 'x.png')]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no\/such\.ckpt is neither a checkpoint file nor a run id/);
  mkdirSync(join(dir, 'empty'), { recursive: true });
  const empty = await runText(['predict', checkpoint, join(dir, 'empty')]);
  assert.match(empty.stderr, /folder .*empty holds no \.png, \.jpg, \.jpeg or \.webp file/);
  writeFileSync(join(dir, 'fake.png'), 'text');
  const mixed = await runText(['predict', checkpoint, join(dir, 'fake.png'), join(sampleImages(), 'test', 'dog', '0001.jpg')]);
  assert.equal(mixed.code, 1, 'one file failed');
  assert.match(mixed.stderr, /fake\.png is not a PNG, JPEG or WebP image/);
  assert.match(mixed.stdout, /0001\.jpg: /, 'the other files are still classified');
});
