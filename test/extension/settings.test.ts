import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readSettings, type SettingName } from '../../extension/settings';

/** Settings as VS Code would give them: the effective values and the user's own. */
function source(effective: Partial<Record<SettingName, unknown>>, user: Partial<Record<SettingName, unknown>> = effective) {
  return { get: (n: SettingName) => effective[n], userValue: (n: SettingName) => user[n] };
}
const trusted = { trusted: true, workspaceFolder: '/work/project' };

test('valid settings become the run configuration, with the config field names', () => {
  const r = readSettings(source({ learningRate: 0.003, beta1: 0.8, optimizer: 'adamw', batchSize: 32, epochs: 3, seed: 7, checkpointEveryNSteps: 500, dataPath: '/data/cifar' }), trusted);
  assert.deepEqual(r, { ok: true, config: { learningRate: 0.003, beta1: 0.8, optimizer: 'adamw', batchSize: 32, epochs: 3, seed: 7, checkpointEvery: 500, data: '/data/cifar' } });
});

test('unset settings are left out, so the sidecar applies PyTorch\'s defaults', () => {
  assert.deepEqual(readSettings(source({ workers: null, weightDecay: null, dataPath: '' }), trusted), { ok: true, config: {} });
});

test('beta1 1.5 is an error naming adamTrainer.beta1 and no configuration is returned', () => {
  assert.deepEqual(readSettings(source({ beta1: 1.5 }), trusted), { ok: false, errors: ['adamTrainer.beta1 must be in [0, 1), got 1.5'] });
});

test('every invalid setting is reported, under its setting name', () => {
  const r = readSettings(source({ learningRate: 0, batchSize: 4.5, optimizer: 'adagrad', checkpointEveryNSteps: 0, epsilon: '1e-8' }), trusted);
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors.map((e) => e.split(' ')[0]), ['adamTrainer.learningRate', 'adamTrainer.epsilon', 'adamTrainer.optimizer', 'adamTrainer.batchSize', 'adamTrainer.checkpointEveryNSteps']);
  assert.match(!r.ok ? r.errors[0] : '', /^adamTrainer\.learningRate must be in \(0, 1\], got 0$/);
});

test('a relative dataPath is relative to the workspace folder; ~ is the home folder; sample stays sample', () => {
  const data = (dataPath: string) => {
    const r = readSettings(source({ dataPath }), trusted);
    return r.ok ? r.config.data : r.errors[0];
  };
  assert.equal(data('datasets/cifar'), join('/work/project', 'datasets/cifar'));
  assert.equal(data('~/cifar'), join(homedir(), 'cifar'));
  assert.equal(data('sample'), 'sample');
});

test('a dataPath with a NUL byte is refused', () => {
  const r = readSettings(source({ dataPath: '/data\0/x' }), trusted);
  assert.deepEqual(r, { ok: false, errors: ['adamTrainer.dataPath must not contain NUL bytes'] });
});

test('in an untrusted workspace the workspace\'s dataPath is ignored and the user\'s is used', () => {
  assert.deepEqual(readSettings(source({ dataPath: '/evil/path' }, { dataPath: '/home/me/cifar' }), { trusted: false }), { ok: true, config: { data: '/home/me/cifar' } });
  assert.deepEqual(readSettings(source({ dataPath: '/evil/path' }, {}), { trusted: false }), { ok: true, config: {} });
});

test('in an untrusted workspace other settings still apply', () => {
  assert.deepEqual(readSettings(source({ learningRate: 0.01 }), { trusted: false }), { ok: true, config: { learningRate: 0.01 } });
});

test('a relative dataPath with no workspace folder open is an error, not a guess', () => {
  assert.deepEqual(readSettings(source({ dataPath: 'cifar' }), { trusted: true }), { ok: false, errors: ['adamTrainer.dataPath must be an absolute path, \'sample\', or relative to a workspace folder (none is open), got "cifar"'] });
});

test('issue 14\'s settings are read and checked under their names: alpha, nesterov, biasCorrection, augment', () => {
  assert.deepEqual(readSettings(source({ optimizer: 'sgd', nesterov: true, augment: 'flip-crop' }), trusted), { ok: true, config: { optimizer: 'sgd', nesterov: true, augment: 'flip-crop' } });
  assert.deepEqual(readSettings(source({ optimizer: 'rmsprop', alpha: 0.9, biasCorrection: true }), trusted), { ok: true, config: { optimizer: 'rmsprop', alpha: 0.9, biasCorrection: true } });
  const r = readSettings(source({ alpha: 1, nesterov: 'yes', biasCorrection: 0, augment: 'mixup' }), trusted);
  assert.deepEqual(!r.ok && r.errors, [
    'adamTrainer.alpha must be in [0, 1), got 1',
    'adamTrainer.nesterov must be true or false, got "yes"',
    'adamTrainer.biasCorrection must be true or false, got 0',
    'adamTrainer.augment must be one of none, flip-crop, got "mixup"',
  ]);
});

test('the schedule settings become the run\'s schedule, and a bad one is named', () => {
  const r = readSettings(source({ schedule: 'cosine', warmupSteps: 500, minLearningRate: 0, maxLearningRate: 0.01, stepSize: 100, gamma: 0.5, pctStart: 0.25 }), trusted);
  assert.deepEqual(r, { ok: true, config: { schedule: 'cosine', warmupSteps: 500, minLearningRate: 0, maxLearningRate: 0.01, stepSize: 100, gamma: 0.5, pctStart: 0.25 } });
  assert.deepEqual(readSettings(source({ schedule: 'linear', gamma: 0 }), trusted), {
    ok: false,
    errors: ['adamTrainer.schedule must be one of constant, step, cosine, onecycle, got "linear"', 'adamTrainer.gamma must be in (0, 1], got 0'],
  });
});
