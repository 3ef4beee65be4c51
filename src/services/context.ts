import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Dialect } from '../store/db.ts';
import type { Regions } from '../domain/regions.ts';
import type { InstanceType } from '../domain/catalog/index.ts';

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
  /** IDs among `ids` (or all, when omitted) of images that instances use in the region. */
  imagesInUse(region: string, ids?: string[]): Promise<Set<string>>;
}
