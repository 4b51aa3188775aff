// A stable colour per run id, so a run keeps its colour across reloads, overlays and windows.

/**
 * Readable on dark and light themes: Tableau 10 without its grey (reads as "disabled"), its yellow and
 * pink (too pale on white), and with its teal darkened for the same reason.
 */
export const RUN_PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#3f9c96', '#9c755f'];

/** Per-layer colours for the trust-region chart (conv1, conv2, fc1, fc2, fc3, then any others). */
export const LAYER_PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#3f9c96', '#9c755f'];

/** FNV-1a over the run id's UTF-16 code units. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function runColor(runId: string): string {
  return RUN_PALETTE[hashString(runId) % RUN_PALETTE.length];
}

/** `#rrggbb` with an alpha, for bands and faint raw curves. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * Colours for the runs drawn together: each run takes its own colour (by id) unless a run before it in
 * `runIds` (the open run comes first) already has it, then the next free one, so runs drawn together never
 * share a colour and the same set of runs always gets the same colours.
 */
export function assignRunColors(runIds: readonly string[]): Map<string, string> {
  const colors = new Map<string, string>();
  const used = new Set<number>();
  for (const id of runIds) {
    let i = hashString(id) % RUN_PALETTE.length;
    for (let probe = 0; probe < RUN_PALETTE.length && used.has(i); probe++) i = (i + 1) % RUN_PALETTE.length;
    used.add(i);
    colors.set(id, RUN_PALETTE[i]);
  }
  return colors;
}
