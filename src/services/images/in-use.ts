import type { Kysely } from 'kysely';
import type { Services } from '../context.ts';
import type { Database } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';

const usedAmong = prepared((db: Kysely<Database>, region: string, ids: string[]) =>
  db.selectFrom('instances').select('image_id').distinct().where('region', '=', region).where('image_id', 'in', ids));

/** IDs among `ids` (or all, when omitted) of images that instances in the region were launched from. */
export async function imagesInUse(services: Pick<Services, 'db'>, region: string, ids?: string[]): Promise<Set<string>> {
  if (ids?.length === 0) return new Set();
  if (ids) return new Set((await usedAmong(services.db, region, ids)).map((r) => r.image_id));
  const q = services.db.selectFrom('instances').select('image_id').distinct().where('region', '=', region);
  return new Set((await q.execute()).map((r) => r.image_id));
}
