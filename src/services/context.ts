import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Dialect } from '../store/db.ts';
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
  /** Seals AccessKey secrets at rest. */
  secrets: SecretBox;
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
  /** Lets the worker claim a job just enqueued instead of at its next poll. */
  wakeWorker(): void;
}

export interface Limits {
  /** Custom images per account and region. */
  imageQuota: number;
  /** Signed requests may be this far from the server's clock. */
  maxClockSkewMs: number;
}
