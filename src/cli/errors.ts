/**
 * The one place CLI failures become text and exit codes: `name: Code: Message (RequestId …)` plus a hint
 * for common codes, and an exit code per failure class (see EXIT in command.ts).
 */
import { ApiCallError, MissingCredentialsError, clientConfig, type ClientConfig } from './api.ts';
import { EXIT, type CliIo } from './command.ts';

type Flags = Record<string, string | true>;

/** A command used wrongly (missing argument, bad flag value): exit 2. */
export class UsageError extends Error {}

const AUTH = /^(InvalidAccessKeyId|SignatureDoesNotMatch|IncompleteSignature|InvalidTimeStamp|Forbidden)/;
const CONFLICTS = new Set([
  'IncorrectInstanceStatus', 'IncorrectDiskStatus', 'SnapshotCreatedImage', 'SnapshotCreatedDisk', 'Operation.Conflict',
  'IdempotentParameterMismatch', 'SharedImageDeleted', 'InvalidDiskId.OperationNotSupported', 'IncorrectImageStatus',
]);

export function exitCodeOf(e: ApiCallError): number {
  if (e.status === 0 || e.status >= 500) return EXIT.unavailable;
  if (AUTH.test(e.code ?? '')) return EXIT.auth;
  if (CONFLICTS.has(e.code) || e.status === 409 || /Duplicated$|AlreadyExists$|^ImageIs/.test(e.code ?? '')) return EXIT.conflict;
  if (e.status === 404 || /NotFound$|^NoSuch/.test(e.code ?? '')) return EXIT.notFound;
  return EXIT.rejected;
}

const HINTS: [RegExp, string][] = [
  [/^InvalidAccessKeyId/, 'check the AccessKeyId of your profile (`imagehouse configure`) or IMAGEHOUSE_ACCESS_KEY_ID; a key made by `imagehouse account create` works only on a server with the same data directory (--data, IMAGEHOUSE_DATA) or IMAGEHOUSE_DATABASE_URL as that command had'],
  [/^SignatureDoesNotMatch|^IncompleteSignature/, 'check the AccessKey secret of your profile or IMAGEHOUSE_ACCESS_KEY_SECRET'],
  [/^InvalidTimeStamp/, "this machine's clock is off; sync it (the service allows a few minutes of skew)"],
  [/^ServiceUnavailable$/, 'is the service running? check --endpoint, IMAGEHOUSE_ENDPOINT or the profile endpoint'],
  [/^InvalidImageId\.NotFound$/, 'list the images you can see with `imagehouse image list --owner self|system|others`'],
  [/^InvalidRegionId|^InvalidRegion/, 'list the regions with `imagehouse region list`'],
  [/^InvalidImageName\.Duplicated$/, 'image names are unique per account and region; pick another --name'],
  [/^QuotaExceed/, 'delete images you no longer need (`imagehouse image delete`) or ask for a larger quota'],
  [/^IncorrectImageStatus|^ImageIs/, 'wait until the image is Available (`imagehouse image show ID`), or cancel its task'],
  [/SharedImage|^InvalidImageId\.Shared/, 'unshare it first: `imagehouse image shares ID`, then `imagehouse image unshare ID --account ...`'],
  [/^IncorrectInstanceStatus/, 'stop the instance first: `imagehouse instance stop ID`'],
  [/^InvalidSnapshotId\.NotFound$/, 'list your snapshots with `imagehouse snapshot list`'],
  [/^MissingParameter$/, 'see the command\'s --help for required options'],
];

export function hintFor(code: string): string | undefined {
  return HINTS.find(([re]) => re.test(code ?? ''))?.[1];
}

/** Prints an API failure the same way for every command and returns its exit code. */
export function reportApiError(name: string, e: ApiCallError, io: CliIo): number {
  io.err(`${name}: ${e.code}: ${e.message}${e.requestId ? ` (RequestId ${e.requestId})` : ''}`);
  const hint = hintFor(e.code);
  if (hint) io.err(`hint: ${hint}`);
  return exitCodeOf(e);
}

/** Runs a command body with the API client config, turning failures into a message and an exit code. */
export async function withClient(name: string, flags: Flags, io: CliIo, body: (cfg: ClientConfig) => Promise<number>): Promise<number> {
  try {
    return await body(clientConfig(flags, io.env));
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${name}: ${e.message}`);
      io.err(`hint: run \`imagehouse ${name} --help\``);
      return EXIT.usage;
    }
    if (e instanceof MissingCredentialsError) {
      io.err(`${name}: ${e.message}`);
      return EXIT.auth;
    }
    if (e instanceof ApiCallError) return reportApiError(name, e, io);
    throw e;
  }
}
