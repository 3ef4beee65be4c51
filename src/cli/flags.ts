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
