import type { Kysely } from 'kysely';
import type { Readable } from 'node:stream';
import type { AccountRow, Database, OsTokenRow } from '../store/schema.ts';
import type { Dialect } from '../store/dialect.ts';
import type { ListingCounts } from '../store/count-cache.ts';
import type { NonceStore } from '../store/nonces.ts';
import type { Clock } from '../domain/clock.ts';
import type { Regions } from '../domain/regions.ts';
import type { InstanceType } from '../domain/catalog/index.ts';
import type { JobQueue } from '../jobs/index.ts';
import type { DataPlane } from './data-plane.ts';
import type { ObjectStore } from './buckets/object-store.ts';
import type { SecretBox } from './secret-box.ts';
import type { AccountWork } from './account-work.ts';
import type { ImageCache } from './glance/cache-store.ts';
import type { AccessKeyCache } from './access-key-cache.ts';
import type { ImageLookups } from './images/lookups.ts';
import type { GlanceLookups } from './glance/rows.ts';

/**
 * Every adapter a use case may need, built once by the composition root (`app.ts`) and handed in.
 * Service functions take it (or a `Pick` of the ports they use) as their first argument.
 */
export interface Services {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Cached listing counts (DescribeImages' TotalCount). */
  counts: ListingCounts;
  /** Signature nonces seen inside the replay window. */
  nonces: NonceStore;
  /** DescribeImages by ImageId, grouped across concurrent requests. */
  imageLookups: ImageLookups;
  /** Glance GET by ID, grouped across concurrent requests on PostgreSQL. */
  glanceLookups: GlanceLookups;
  /** A Keystone token by its hash, with its account (services/identity/tokens.ts; grouped on PostgreSQL). */
  tokens(tokenHash: string): Promise<TokenWithAccount | undefined>;
  /** Seals AccessKey secrets at rest. */
  secrets: SecretBox;
  /** AccessKeys read recently, dropped when any node changes one. */
  accessKeys: AccessKeyCache;
  regions: Regions;
  instanceTypes: InstanceType[];
  clock: Clock;
  limits: Limits;
  /** Per-account limit on concurrent heavy requests (Throttling.User beyond it). */
  work: AccountWork;
  /** Chunk stores per region, the chunk index, manifests, hashing. */
  dataPlane: DataPlane;
  /** Buckets: folders in the data directory, or S3 buckets. */
  objects: ObjectStore;
  /** Folders on the data volume (renames from them into buckets stay on one filesystem). */
  dirs: { temp: string; uploads: string };
  jobs: JobQueue;
  /** This node's Glance image cache (services/glance/cache-store.ts). */
  imageCache: ImageCache;
  /** Glance web-download: hosts (or host:port) allowed although they resolve to internal addresses. */
  webDownload: { allowedHosts: readonly string[] };
  /** Disk exports over NBD: the token key and the listener's port. */
  nbd: NbdAccess;
  /** Runs instances as VMs (IMAGEHOUSE_HYPERVISOR=qemu); absent = metadata only. */
  hypervisor?: Hypervisor;
  /** Lets the worker claim a job just enqueued instead of at its next poll. */
  wakeWorker(): void;
  /** Bodies of PUT /file requests this node is receiving, by key, for the GlanceUpload jobs that store them (glance/import.ts). */
  uploadBodies: Map<string, Readable>;
}

/** A token row with what a request needs of its account. */
export type TokenWithAccount = OsTokenRow & { account_name: string; account_kind: AccountRow['kind']; account_is_admin: number | undefined };

export interface Limits {
  /** Custom images per account and region. */
  imageQuota: number;
  /** Signed requests may be this far from the server's clock. */
  maxClockSkewMs: number;
}

/** How services reach the NBD listener (api/nbd): the export-token key, and its port once it listens. */
export interface NbdAccess {
  tokenKey: Buffer;
  /** Port of the listener on 127.0.0.1; undefined until it listens. */
  port(): number | undefined;
}

/** A VM per running instance (implemented by vm/hypervisor.ts). */
export interface Hypervisor {
  /** Operator caps on what an instance type asks for. */
  limits: { maxVcpus: number; maxMemoryMiB: number; shutdownTimeoutMs: number };
  start(instanceId: string, spec: { vcpus: number; memoryMiB: number; disks: string[] }, events: VmEvents): void;
  /** ACPI shutdown, then kill after the timeout; resolves once the VM is gone and its end reported (at once when none runs). */
  stop(instanceId: string): Promise<void>;
  /** The last serial console bytes of the instance's running VM; undefined when none runs here. */
  console(instanceId: string): Buffer | undefined;
}

/** What a VM tells the services while it runs and when it ends. */
export interface VmEvents {
  /** The console so far, now and then while the guest writes to it. */
  console(output: Buffer): Promise<void> | void;
  /** The VM ended (by itself, or by stop()): why in words, and its final console. */
  exited(reason: string, output: Buffer): Promise<void> | void;
}
