/** One CLI command: a name path (`account create`), help text and a runner that returns the exit code. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  isTTY: boolean;
}

export interface Command {
  /** e.g. ['account', 'create'] */
  path: string[];
  summary: string;
  usage: string;
  run(args: { flags: Record<string, string | true>; rest: string[] }, io: CliIo): Promise<number>;
}

/** Exit codes, one per failure class. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  rejected: 3,
  notFound: 4,
  auth: 5,
  conflict: 6,
  unavailable: 7,
  /** `serve` could not start: the port (or NBD port) is taken, the data directory, database or S3 cannot be used. */
  portInUse: 10,
  dataDir: 11,
  database: 12,
  objectStore: 13,
} as const;
