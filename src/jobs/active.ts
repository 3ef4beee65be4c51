import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** The kind of an unfinished (queued or running) job on this resource, if any; `kinds` narrows the search. */
export async function activeJobKind(db: Kysely<Database>, resourceId: string, kinds?: readonly string[]): Promise<string | undefined> {
  let q = db.selectFrom('jobs').select('kind').where('resource_id', '=', resourceId).where('state', 'in', ['queued', 'running']);
  if (kinds) q = q.where('kind', 'in', [...kinds]);
  return (await q.executeTakeFirst())?.kind;
}
