/** What every compute command does around its API calls: credentials, flags, exit codes per failure class. */
import { callAction, type ClientConfig } from '../../api.ts';
import { UsageError } from '../../errors.ts';

type Flags = Record<string, string | true>;

export { UsageError, exitCodeOf, withClient } from '../../errors.ts';

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function int(flags: Flags, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

export function arg(rest: string[], i: number, what: string): string {
  const v = rest[i];
  if (!v) throw new UsageError(`${what} is required`);
  return v;
}

/** Every item of a NextToken-paged Describe action. */
export async function listAll<T>(cfg: ClientConfig, action: string, params: Record<string, string | number | boolean | undefined>, pick: (body: any) => T[]): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const body = await callAction(cfg, action, { RegionId: cfg.region, MaxResults: 100, ...params, NextToken: token });
    out.push(...pick(body));
    token = body.NextToken || undefined;
  } while (token);
  return out;
}
