import type { Services } from '../context.ts';

/** IDs among `ids` (or all, when omitted) of images that instances in the region were launched from. */
export async function imagesInUse(services: Pick<Services, 'db'>, region: string, ids?: string[]): Promise<Set<string>> {
  if (ids?.length === 0) return new Set();
  let q = services.db.selectFrom('instances').select('image_id').distinct().where('region', '=', region);
  if (ids) q = q.where('image_id', 'in', ids);
  return new Set((await q.execute()).map((r) => r.image_id));
}
