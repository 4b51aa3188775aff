// "Adam: Classify Image" (the Explorer's context menu on .png, .jpg, .jpeg and .webp files, and the palette): the
// sidecar resizes the image as the tutorial's torchvision would and classifies it with the run this window follows
// (its current weights while it trains), or with a run or checkpoint file the user picks. The dashboard opens and
// shows the image beside its 32x32 version with the top-3 classes; a notification says them too.
import { extname } from 'node:path';
import * as vscode from 'vscode';
import type { ClassifiedMessage } from '../sidecar/protocol';
import { type Controller } from './controller';
import { runDescription, withoutLinks } from './format';
import { store } from './commands';

export const CLASSIFIABLE = ['.png', '.jpg', '.jpeg', '.webp'];

/** Which weights: the followed run, else a run or a checkpoint file the user picks. */
async function pickWeights(c: Controller): Promise<{ runId: string } | { checkpoint: string } | undefined> {
  if (c.current) return { runId: c.current };
  const runs = store(c).listRuns().filter((r) => r.step !== undefined || r.state === 'running' || r.state === 'paused').reverse();
  const items: Array<vscode.QuickPickItem & { runId?: string }> = runs.map((r) => ({ label: r.runId, description: runDescription(r), runId: r.runId }));
  items.push({ label: 'Checkpoint file...', description: 'a .ckpt written by any run' });
  const picked = await vscode.window.showQuickPick(items, { title: 'Classify with the weights of' });
  if (!picked) return undefined;
  if (picked.runId) return { runId: picked.runId };
  const file = await vscode.window.showOpenDialog({ title: 'Checkpoint to classify with', canSelectMany: false, filters: { Checkpoints: ['ckpt'] } });
  return file?.[0] ? { checkpoint: file[0].fsPath } : undefined;
}

export function describeClassified(m: ClassifiedMessage): string {
  const top = m.top.map((g) => `${g.class} ${(g.probability * 100).toFixed(1)}%`).join(', ');
  const by = m.runId ? `run ${m.runId}` : 'the checkpoint';
  return `${m.name.split(/[\\/]/).pop()}: ${top} (${by}, step ${m.step.toLocaleString('en-US')}${m.source === 'live' ? ', current weights' : ''})`;
}

export async function classifyImage(c: Controller, arg?: unknown): Promise<void> {
  let uri = arg instanceof vscode.Uri ? arg : undefined;
  if (!uri) {
    const chosen = await vscode.window.showOpenDialog({ title: 'Image to classify', canSelectMany: false, filters: { Images: CLASSIFIABLE.map((e) => e.slice(1)) } });
    uri = chosen?.[0];
    if (!uri) return;
  }
  const name = uri.path.split('/').pop() ?? uri.path;
  try {
    if (uri.scheme !== 'file') throw new Error(`${name} is not a file on this machine (${uri.scheme}:)`);
    if (!CLASSIFIABLE.includes(extname(uri.fsPath).toLowerCase())) throw new Error(`${name} is not a .png, .jpg, .jpeg or .webp file`);
    const weights = await pickWeights(c);
    if (!weights) return;
    c.openDashboard();
    const reply = await c.request((requestId) => ({ type: 'classify', ...weights, path: uri.fsPath, requestId }), 'classify');
    if (reply.type !== 'classified') throw new Error(`the sidecar answered ${reply.type}`);
    void vscode.window.showInformationMessage(withoutLinks(`Train with Adam: ${describeClassified(reply)}`));
  } catch (e) {
    void vscode.window.showErrorMessage(withoutLinks(`Train with Adam: could not classify ${name}: ${(e as Error).message}`));
  }
}
