// Commands of the Runs view's items that have no palette form of their own: fork a run from one of its
// checkpoints, compare two runs side by side, reveal a run's folder. Each gets the item's node.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { hyperparameterSchemas, type RunSummary } from '../sidecar/protocol';
import { type Controller } from './controller';
import { pickRun, reportErrors, store } from './commands';
import { runDescription } from './format';
import { runLabel } from './runsTree';

/** "Fork Run...": a checkpoint of the run, a learning rate (the run's by default), and the fork trains beside it. */
export function forkRun(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not fork the run', async () => {
    const s = store(c);
    const run = await pickRun(s.listRuns(), 'Run to fork', arg);
    if (!run) return;
    const checkpoints = s.checkpoints(run.runId).reverse();
    if (checkpoints.length === 0) throw new Error(`run ${run.runId} has no checkpoint yet to fork from`);
    const picked = checkpoints.length === 1 ? { step: checkpoints[0].step } : await vscode.window.showQuickPick(
      checkpoints.map((k) => ({ label: `step ${k.step.toLocaleString('en-US')}`, step: k.step })),
      { title: `Fork ${run.runId} (1 of 2): from which checkpoint` },
    );
    if (!picked) return;
    const lr = await vscode.window.showInputBox({
      title: `Fork ${run.runId} (2 of 2): learning rate of the fork`,
      value: String(run.config.learningRate),
      validateInput: (text) => (hyperparameterSchemas.learningRate.safeParse(Number(text)).success && text.trim() !== '' ? undefined : 'a learning rate in (0, 1]'),
    });
    if (lr === undefined) return;
    const learningRate = Number(lr);
    const changes = learningRate === run.config.learningRate ? {} : { learningRate };
    c.openDashboard();
    await c.startRun((requestId) => ({ type: 'fork', runId: run.runId, step: picked.step, changes, requestId }));
  });
}

/** "Compare with...": another run, then both side by side (hyperparameters and results) in a Markdown preview. */
export function compareWith(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not compare the runs', async () => {
    const runs = store(c).listRuns();
    const first = await pickRun(runs, 'Run to compare', arg);
    if (!first) return;
    const second = await pickRun(runs.filter((r) => r.runId !== first.runId), `Compare ${first.runId} with`);
    if (!second) return;
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: comparisonMarkdown(first, second) });
    await vscode.commands.executeCommand('markdown.showPreview', doc.uri);
  });
}

/** "Reveal in File Explorer": the run's folder (config, events.jsonl, losses.f32, checkpoints). */
export function revealRunFolder(c: Controller, arg?: unknown): Promise<void> {
  return reportErrors('could not reveal the run folder', async () => {
    const run = await pickRun(store(c).listRuns(), 'Run to reveal', arg);
    if (run) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(join(c.runsDir, run.runId)));
  });
}

export function comparisonMarkdown(a: RunSummary, b: RunSummary): string {
  const rows: Array<[string, (r: RunSummary) => unknown]> = [
    ['optimizer', (r) => r.config.optimizer],
    ['learning rate', (r) => r.config.learningRate],
    ['β1 / momentum', (r) => (r.config.optimizer === 'sgd' ? r.config.momentum : r.config.beta1)],
    ['β2', (r) => (r.config.optimizer === 'sgd' ? '' : r.config.beta2)],
    ['ε', (r) => (r.config.optimizer === 'sgd' ? '' : r.config.epsilon)],
    ['weight decay', (r) => r.config.weightDecay],
    ['batch size', (r) => r.config.batchSize],
    ['epochs', (r) => r.config.epochs],
    ['seed', (r) => r.config.seed],
    ['state', (r) => (r.orphaned ? 'interrupted' : r.state)],
    ['step', (r) => r.step?.toLocaleString('en-US') ?? ''],
    ['test accuracy', (r) => (r.testAccuracy === undefined ? '' : `${(r.testAccuracy * 100).toFixed(1)}%`)],
  ];
  const cell = (v: unknown) => String(v).replace(/\|/g, '\\|');
  return [
    `# ${a.runId} and ${b.runId}`,
    '',
    `- **${a.runId}**: ${runLabel(a)} (${runDescription(a)})`,
    `- **${b.runId}**: ${runLabel(b)} (${runDescription(b)})`,
    '',
    `| | ${a.runId} | ${b.runId} |`,
    '|---|---|---|',
    ...rows.map(([name, value]) => `| ${name} | ${cell(value(a))} | ${cell(value(b))} |`),
    '',
    'The dashboard overlays their curves: tick one in its run list while the other is open.',
    '',
  ].join('\n');
}
