// The links VS Code makes of a notification's message: its own parser's pattern (microsoft/vscode,
// src/vs/base/common/linkedText.ts, LINK_REGEX), copied as the oracle for what a notification would render. It is the
// edge we do not own; the extension's text must never match it unless we mean a link.
const LINK_REGEX = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^\)\s]+)(?: (["'])(.+?)(\3))?\)/gi;

/** The targets of the links VS Code would render in `text`. */
export function notificationLinks(text: string): string[] {
  return [...text.matchAll(LINK_REGEX)].map((m) => m[2]);
}
