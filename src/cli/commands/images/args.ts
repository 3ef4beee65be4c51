/** Flag and argument checks for the image commands. */
import { UsageError } from '../../errors.ts';

type Flags = Record<string, string | true>;

export function flag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function int(flags: Flags, name: string): number | undefined {
  const v = flag(flags, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new UsageError(`--${name} must be a positive integer`);
  return Number(v);
}

export function oneId(rest: string[], what: string): string {
  if (rest.length !== 1) throw new UsageError(`give one ${what}`);
  return rest[0];
}

/** `--account 1,2 --account 3` arrives as one value; accept comma-separated lists. */
export function accounts(flags: Flags): string[] {
  const v = flag(flags, 'account');
  if (!v) throw new UsageError('--account ACCOUNT_ID[,ACCOUNT_ID...] is required');
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}
