/** What every compute command does around its API calls: credentials, flags, exit codes per failure class. */
import { callAction, type ClientConfig } from '../../api.ts';

export { UsageError, exitCodeOf, withClient } from '../../errors.ts';
export { arg, int, str } from '../../flags.ts';

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
