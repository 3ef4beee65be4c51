import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Dialect } from '../store/db.ts';
import type { Regions } from '../domain/regions.ts';
import type { InstanceType } from '../domain/catalog/index.ts';
import type { DataPlane } from './data-plane.ts';
import type { JobQueue } from '../jobs/index.ts';

export interface Clock {
  now(): number;
}

/** The adapters every use case may need, built once by the app factory. */
export interface Services {
  db: Kysely<Database>;
  dialect: Dialect;
  regions: Regions;
  instanceTypes: InstanceType[];
  clock: Clock;
  limits: { imageQuota: number };
  dataDir: string;
  dataPlane: DataPlane;
  jobs: JobQueue;
  /** Lets the worker claim a job just enqueued instead of at its next poll. */
  wakeWorker(): void;
  /** IDs among `ids` (or all, when omitted) of images that instances use in the region. */
  imagesInUse(region: string, ids?: string[]): Promise<Set<string>>;
}
