/** The one way commands read their flags and positional arguments. */
import { UsageError } from './errors.ts';

export type Flags = Record<string, string | true>;

/** A flag's value; a flag given without one is a usage error. */
export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

/** A non-negative integer flag, up to 2^53. */
export function int(flags: Flags, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

/** The i-th positional argument, required. */
export function arg(rest: string[], i: number, what: string): string {
  const v = rest[i];
  if (!v) throw new UsageError(`${what} is required`);
  return v;
}

/** Exactly one positional argument. */
export function oneId(rest: string[], what: string): string {
  if (rest.length !== 1) throw new UsageError(`give one ${what}`);
  return rest[0];
}

/** Every `--flag` named in a help text (a command's usage, the global options). */
export function flagsIn(text: string): string[] {
  return [...new Set([...text.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]))];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const swap = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? prev[j - 2] ?? Infinity : Infinity;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1), swap);
    }
    prev = row;
  }
  return prev[b.length];
}

/** The known flag closest to `name`, when it is close enough to be a typo. */
export function closestFlag(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.startsWith(name) || name.startsWith(k) ? Math.min(editDistance(name, k), 2) : editDistance(name, k);
    if (d < bestDistance) { best = k; bestDistance = d; }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Refuses a flag the command does not take (a typo would otherwise act with a default), suggesting the closest. */
export function checkKnownFlags(flags: Flags, known: readonly string[]): void {
  for (const name of Object.keys(flags)) {
    if (known.includes(name)) continue;
    const near = closestFlag(name, known);
    throw new UsageError(`unknown flag --${name}${near ? `; did you mean --${near}?` : ''}`);
  }
}
