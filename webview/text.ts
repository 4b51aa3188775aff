// Numbers and names as the page shows them, without the browser's ICU: a page's first Intl.NumberFormat,
// toLocaleString or localeCompare loads ICU's data, 30-55 ms on this machine's Chromium, and opening a run paid it
// before its charts were drawn (bench/page.mjs). Generated run ids and ISO dates sort the same by code unit as by
// localeCompare (test/webview/text.test.ts); counts are grouped by thousands as en-US writes them.

/** A count, rounded to an integer, with commas between thousands as `toLocaleString('en-US')` writes an integer:
 * 1,234,567; -12,000. Past 2^53 (no step or size gets there) it is the number as JavaScript writes it. */
export function thousands(n: number): string {
  const rounded = Math.round(n);
  if (!Number.isSafeInteger(rounded)) return String(n);
  const grouped = String(Math.abs(rounded)).replace(/\B(?=(\d{3})+$)/g, ',');
  return rounded < 0 ? `-${grouped}` : grouped;
}

/** Order by UTF-16 code units: for generated run ids and ISO dates, localeCompare's order; a name a user gave a run
 * with capitals sorts them before lowercase, as `ls` does in the C locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
