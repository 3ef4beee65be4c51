/** What every compute command does around its API calls: credentials, flags, exit codes per failure class. */
import type { CliIo } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { ApiCallError, MissingCredentialsError, clientConfig, callAction, type ClientConfig } from '../../api.ts';

type Flags = Record<string, string | true>;

export class UsageError extends Error {}

const CONFLICTS = new Set([
  'IncorrectInstanceStatus', 'IncorrectDiskStatus', 'SnapshotCreatedImage', 'SnapshotCreatedDisk', 'Operation.Conflict',
  'IdempotentParameterMismatch', 'SharedImageDeleted', 'InvalidDiskId.OperationNotSupported',
]);
const AUTH = new Set(['InvalidAccessKeyId.NotFound', 'SignatureDoesNotMatch', 'IncompleteSignature', 'InvalidTimeStamp.Expired', 'Forbidden']);

export function exitCodeOf(e: ApiCallError): number {
  if (AUTH.has(e.code)) return EXIT.auth;
  if (CONFLICTS.has(e.code)) return EXIT.conflict;
  if (e.status === 404 || /NotFound$/.test(e.code ?? '')) return EXIT.notFound;
  if (e.status === 0 || e.status >= 500) return EXIT.unavailable;
  return EXIT.rejected;
}

/** Runs a command body with the API client config, turning failures into a message and an exit code. */
export async function withClient(name: string, flags: Flags, io: CliIo, body: (cfg: ClientConfig) => Promise<number>): Promise<number> {
  try {
    return await body(clientConfig(flags, io.env));
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${name}: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof MissingCredentialsError) {
      io.err(`${name}: ${e.message}`);
      return EXIT.auth;
    }
    if (e instanceof ApiCallError) {
      io.err(`${name}: ${e.code}: ${e.message}${e.requestId ? ` (RequestId ${e.requestId})` : ''}`);
      return exitCodeOf(e);
    }
    throw e;
  }
}

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
