const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, '').length;

/** An aligned text table; cells may carry colour codes, which take no width. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '') + ' '.repeat(Math.max(0, widths[i] - visible(c ?? '')))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
