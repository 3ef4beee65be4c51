import path from 'node:path';

/** Everything the service reads from the outside world, resolved once at start. */
export interface Config {
  dataDir: string;
  host: string;
  port: number;
  /** postgres://… to use PostgreSQL; empty for the embedded SQLite in dataDir. */
  databaseUrl: string;
  /** Hex AES-256 key for AccessKey secrets; empty = a key file in dataDir is created on first start. */
  masterKey: string;
  /** Operator-supplied data files; empty = the shipped catalog. */
  regionsFile: string;
  publicImagesFile: string;
  /** Allowed clock skew for signed requests. */
  maxClockSkewMs: number;
  /** Custom images per account per region. */
  imageQuota: number;
  logLevel: string;
  /** `json` or `text`; empty: text when stdout is a terminal, JSON otherwise. */
  logFormat: '' | 'json' | 'text';
  /** Unreferenced chunks younger than this are kept; the collector runs every gcIntervalMs. */
  gcGraceMs: number;
  gcIntervalMs: number;
  /** Job lease: a crashed worker's jobs are resumed this long after its last heartbeat. */
  jobLeaseMs: number;
  /** NBD listener for disk exports, always on 127.0.0.1 (0 = any free port). */
  nbdPort: number;
  /** `qemu` runs started instances as VMs; `none` (default) keeps instances as metadata. */
  hypervisor: 'none' | 'qemu';
  vm: { maxVcpus: number; maxMemoryMiB: number; shutdownTimeoutMs: number };
  /** Jobs one account may have running at once (fair claiming, issue 11). */
  jobsPerAccount: number;
  /** Heavy requests (launches, disk writes) one account may have in flight at once. */
  requestsPerAccount: number;
  /** HTTP limits: time to receive headers / a whole request, idle time of a connection, connections per client address. */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; idleTimeoutMs: number; maxConnectionsPerAddress: number };
  /** Every this many ms the server logs its event-loop delay and memory (0 = never; for operators and bench/load-soak.ts). */
  loopReportMs: number;
  /** Glance web-download may reach these internal hosts (`host` or `host:port`; IMAGEHOUSE_IMPORT_ALLOWED_HOSTS, comma-separated). */
  importAllowedHosts: string[];
  /** S3-compatible chunk store; empty endpoint = the local filesystem under dataDir. */
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string };
}

export type Env = Record<string, string | undefined>;

/** Parses `--flag value` / `--flag=value` pairs. */
export function parseFlags(argv: string[]): { flags: Record<string, string | true>; rest: string[] } {
  const flags: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { rest.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { flags[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) { flags[a.slice(2)] = next; i++; }
    else flags[a.slice(2)] = true;
  }
  return { flags, rest };
}

function str(v: string | true | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A whole-number setting of at least `min`, or `fallback` when unset. */
function intEnv(env: Env, name: string, fallback: number, min = 0): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  if (!/^\d{1,10}$/.test(v) || Number(v) < min) throw new Error(`invalid ${name}: ${v}`);
  return Number(v);
}

export function loadConfig(flags: Record<string, string | true>, env: Env): Config {
  const dataDir = path.resolve(str(flags.data) ?? env.IMAGEHOUSE_DATA ?? './data');
  const port = Number(str(flags.port) ?? env.IMAGEHOUSE_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${port}`);
  const jobLeaseMs = Number(env.IMAGEHOUSE_JOB_LEASE_MS ?? 30_000);
  if (!Number.isInteger(jobLeaseMs) || jobLeaseMs < 100) throw new Error(`invalid IMAGEHOUSE_JOB_LEASE_MS: ${env.IMAGEHOUSE_JOB_LEASE_MS}`);
  const nbdPort = Number(str(flags['nbd-port']) ?? env.IMAGEHOUSE_NBD_PORT ?? 10809);
  if (!Number.isInteger(nbdPort) || nbdPort < 0 || nbdPort > 65535) throw new Error(`invalid NBD port: ${nbdPort}`);
  const databaseUrl = str(flags['database-url']) ?? env.IMAGEHOUSE_DATABASE_URL ?? '';
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new StartupError('database', `the database URL must look like postgres://user:password@host:5432/db, not ${redactedUrl(databaseUrl)} (check --database-url or IMAGEHOUSE_DATABASE_URL)`);
  }
  const logFormat = env.IMAGEHOUSE_LOG_FORMAT ?? '';
  if (logFormat !== '' && logFormat !== 'json' && logFormat !== 'text') throw new Error(`invalid IMAGEHOUSE_LOG_FORMAT: ${logFormat} (json or text)`);
  const hypervisor = env.IMAGEHOUSE_HYPERVISOR ?? 'none';
  if (hypervisor !== 'none' && hypervisor !== 'qemu') throw new Error(`invalid IMAGEHOUSE_HYPERVISOR: ${hypervisor} (none or qemu)`);
  return {
    dataDir,
    nbdPort,
    hypervisor,
    vm: {
      maxVcpus: intEnv(env, 'IMAGEHOUSE_VM_MAX_VCPUS', 2, 1),
      maxMemoryMiB: intEnv(env, 'IMAGEHOUSE_VM_MAX_MEMORY_MIB', 512, 1),
      shutdownTimeoutMs: intEnv(env, 'IMAGEHOUSE_VM_SHUTDOWN_TIMEOUT_MS', 30_000),
    },
    host: str(flags.host) ?? env.IMAGEHOUSE_HOST ?? '127.0.0.1',
    port,
    databaseUrl,
    masterKey: env.IMAGEHOUSE_MASTER_KEY ?? '',
    regionsFile: env.IMAGEHOUSE_REGIONS_FILE ?? '',
    publicImagesFile: env.IMAGEHOUSE_PUBLIC_IMAGES_FILE ?? '',
    maxClockSkewMs: 15 * 60 * 1000,
    imageQuota: Number(env.IMAGEHOUSE_IMAGE_QUOTA ?? 100),
    logLevel: env.IMAGEHOUSE_LOG_LEVEL ?? 'info',
    logFormat,
    gcGraceMs: Number(env.IMAGEHOUSE_GC_GRACE_MS ?? 3600_000),
    gcIntervalMs: Number(env.IMAGEHOUSE_GC_INTERVAL_MS ?? 600_000),
    jobLeaseMs,
    jobsPerAccount: intEnv(env, 'IMAGEHOUSE_JOBS_PER_ACCOUNT', 2, 1),
    requestsPerAccount: intEnv(env, 'IMAGEHOUSE_REQUESTS_PER_ACCOUNT', 16, 1),
    http: {
      headersTimeoutMs: intEnv(env, 'IMAGEHOUSE_HEADERS_TIMEOUT_MS', 10_000),
      requestTimeoutMs: intEnv(env, 'IMAGEHOUSE_REQUEST_TIMEOUT_MS', 3600_000),
      idleTimeoutMs: intEnv(env, 'IMAGEHOUSE_IDLE_TIMEOUT_MS', 30_000),
      maxConnectionsPerAddress: intEnv(env, 'IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS', 20),
    },
    loopReportMs: intEnv(env, 'IMAGEHOUSE_LOOP_REPORT_MS', 0),
    importAllowedHosts: (env.IMAGEHOUSE_IMPORT_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    s3: {
      endpoint: env.IMAGEHOUSE_S3_ENDPOINT ?? '',
      region: env.IMAGEHOUSE_S3_REGION ?? 'us-east-1',
      bucket: env.IMAGEHOUSE_S3_BUCKET ?? 'imagehouse',
      accessKeyId: env.IMAGEHOUSE_S3_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.IMAGEHOUSE_S3_SECRET_ACCESS_KEY ?? '',
    },
  };
}

/** Where the metadata lives, for people: the SQLite file in the data directory, or the PostgreSQL URL without its password. */
export function metadataLocation(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `${path.join(config.dataDir, 'imagehouse.db')} (SQLite in the data directory)`;
  return `${redactedUrl(config.databaseUrl)} (PostgreSQL)`;
}

/** A URL with its password replaced by `***` (a string that does not parse is not shown at all). */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * Something the service needs at start cannot be used: the port, the data directory, the database or S3.
 * `imagehouse serve` prints the message as one line and exits with the code for `resource`.
 */
export class StartupError extends Error {
  constructor(readonly resource: 'port' | 'dataDir' | 'database' | 'objectStore', message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
