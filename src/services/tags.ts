/** Tags on resources (images, instances, disks, snapshots): filtering listings by them, and reading them for a page. */
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely';
import type { Database } from '../store/schema.ts';
import { prepared } from '../store/prepared.ts';

export interface TagFilter {
  key: string;
  /** Absent: any value. */
  value?: string;
}

export type TagList = { key: string; value: string }[];

/**
 * One condition per filter (all must hold): `idColumn` is among the resources carrying the tag. Each is a
 * subquery driven by the tag index rather than a probe per listed row.
 */
export function tagConditions<DB extends Database, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  idColumn: string,
  tags: TagFilter[] | undefined,
  resourceType?: string,
): Expression<SqlBool>[] {
  const e = eb as unknown as ExpressionBuilder<Database, 'tags'>;
  return (tags ?? []).map((t) => {
    let sub = e.selectFrom('tags as t').select('t.resource_id').where('t.tag_key', '=', t.key);
    if (resourceType) sub = sub.where('t.resource_type', '=', resourceType);
    if (t.value !== undefined) sub = sub.where('t.tag_value', '=', t.value);
    return e(idColumn as 'tags.resource_id', 'in', sub);
  });
}

/** The tags of each resource, sorted by key; resources without tags map to an empty list. */
const tagRows = prepared((db: Kysely<Database>, ids: string[]) =>
  db.selectFrom('tags').select(['resource_id', 'tag_key', 'tag_value']).where('resource_id', 'in', ids).orderBy('tag_key'));

// `{ db }` is Pick<Services, 'db'>, spelled out: views-query.ts and so Services' own ports import this module.
export async function tagsOf(services: { db: Kysely<Database> }, ids: string[]): Promise<(id: string) => TagList> {
  const rows = ids.length
    ? await tagRows(services.db, [...new Set(ids)])
    : [];
  const byId = new Map<string, TagList>();
  for (const r of rows) {
    let list = byId.get(r.resource_id);
    if (!list) byId.set(r.resource_id, (list = []));
    list.push({ key: r.tag_key, value: r.tag_value });
  }
  return (id) => byId.get(id) ?? [];
}
