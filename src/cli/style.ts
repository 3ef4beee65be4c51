/** Human output helpers: relative times and colour, the latter only on a terminal (and never with NO_COLOR). */
import type { CliIo } from './command.ts';

/** "3 minutes ago", "in 2 days"; empty for an empty or unparsable time. */
export function relativeTime(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return '';
  const seconds = Math.round((now - t) / 1000);
  const abs = Math.abs(seconds);
  const units: [number, string][] = [[86400 * 365, 'year'], [86400 * 30, 'month'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  if (abs < 45) return seconds >= 0 ? 'just now' : 'in a moment';
  const [size, unit] = units.find(([s]) => abs >= s) ?? [1, 'second'];
  const n = Math.max(1, Math.round(abs / size));
  const phrase = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return seconds >= 0 ? `${phrase} ago` : `in ${phrase}`;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function colours(io: CliIo): (c: Colour, s: string) => string {
  const on = io.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  return (c, s) => (on && s ? `\x1b[${CODES[c]}m${s}\x1b[0m` : s);
}

/** A status word coloured by what it means: green when usable, yellow while working, red when failed. */
export function statusColour(status: string): Colour | undefined {
  if (/^(Available|Running|Finished|accomplished|In_use)$/i.test(status)) return 'green';
  if (/^(Waiting|Creating|Processing|Pending|Starting|Stopping|progressing|Copying)$/i.test(status)) return 'yellow';
  if (/(Failed|UnAvailable|Deprecated|Stopped|Cancel)/i.test(status)) return 'red';
  return undefined;
}
