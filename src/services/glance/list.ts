/**
 * GET /v2/images in SQL: visibility, filters, sort and marker paging run in the database, so a page costs
 * its own rows however many images there are. The Glance view of an ECS row (a missing glance_images row
 * means ECS defaults, see images.ts toGlance) is written once here as SQL expressions; paging is keyset
 * paging on the sort expressions with the id as the last key.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from '../../store/dialect.ts';
import { apiError } from '../../domain/errors.ts';
import { GLANCE_STATUS_TABLE } from '../../domain/glance-status.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { glanceView, type GlanceImage } from './images.ts';
import { fromDocument, glanceDocument } from './rows.ts';
import { openstackRegion } from './region.ts';

export interface ListQuery {
  filters: Record<string, string>;
  tags: string[];
  sort: { key: string; dir: 'asc' | 'desc' }[];
  limit: number;
  marker?: string;
  /** Conditions a surface adds (IMS's own filters), as SQL over `images i LEFT JOIN glance_images g`. */
  where?: RawBuilder<unknown>[];
}

export const MAX_LIST_LIMIT = 1000;
const GiB = 1024 ** 3;
const badRequest = (msg: string) => apiError('OpenStack.BadRequest', msg);

type Expr = RawBuilder<unknown>;
const phase = sql`COALESCE(g.phase, '')`;
const glance = sql`g.image_id IS NOT NULL`;

/** Glance status from the ECS status and phase: exact rows first, then the first row of the ECS status (glanceStatusOf). */
const statusExpr: Expr = (() => {
  const exact = GLANCE_STATUS_TABLE.map((r) => sql`WHEN i.status = ${r.ecs} AND ${phase} = ${r.phase} THEN ${r.glance}`);
  const byEcs = GLANCE_STATUS_TABLE.map((r) => sql`WHEN i.status = ${r.ecs} THEN ${r.glance}`);
  return sql`(CASE ${sql.join([...exact, ...byEcs], sql` `)} ELSE 'killed' END)`;
})();

/** The Glance attributes a list may filter or sort on, as SQL over `images i LEFT JOIN glance_images g`. */
const ATTRIBUTES: Record<string, { expr: Expr; kind: 'text' | 'number' | 'bool' }> = {
  id: { expr: sql`i.id`, kind: 'text' },
  name: { expr: sql`i.name`, kind: 'text' },
  owner: { expr: sql`i.owner_id`, kind: 'text' },
  status: { expr: statusExpr, kind: 'text' },
  visibility: { expr: sql`COALESCE(g.visibility, CASE WHEN i.category <> 'self' THEN 'public' WHEN i.is_public = 1 THEN 'community' ELSE 'shared' END)`, kind: 'text' },
  disk_format: { expr: sql`(CASE WHEN ${glance} THEN NULLIF(g.disk_format, '') WHEN i.category = 'self' AND i.source_kind <> 'glance' THEN 'raw' END)`, kind: 'text' },
  container_format: { expr: sql`(CASE WHEN ${glance} THEN NULLIF(g.container_format, '') WHEN i.source_kind <> 'glance' THEN 'bare' END)`, kind: 'text' },
  size: { expr: sql`(CASE WHEN ${glance} THEN g.size ELSE i.size_gib * CAST(${GiB} AS BIGINT) END)`, kind: 'number' },
  virtual_size: { expr: sql`(CASE WHEN ${glance} THEN g.virtual_size ELSE i.size_gib * CAST(${GiB} AS BIGINT) END)`, kind: 'number' },
  min_disk: { expr: sql`COALESCE(g.min_disk, i.size_gib)`, kind: 'number' },
  min_ram: { expr: sql`COALESCE(g.min_ram, 0)`, kind: 'number' },
  protected: { expr: sql`COALESCE(g.protected, 0)`, kind: 'bool' },
  os_hidden: { expr: sql`COALESCE(g.os_hidden, 0)`, kind: 'bool' },
  checksum: { expr: sql`NULLIF(COALESCE(g.checksum, ''), '')`, kind: 'text' },
  os_hash_algo: { expr: sql`NULLIF(COALESCE(g.os_hash_algo, ''), '')`, kind: 'text' },
  os_hash_value: { expr: sql`NULLIF(COALESCE(g.os_hash_value, ''), '')`, kind: 'text' },
  created_at: { expr: sql`i.created_at`, kind: 'number' },
  updated_at: { expr: sql`i.updated_at`, kind: 'number' },
};
const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at', 'visibility', 'owner', 'min_disk', 'min_ram', 'virtual_size'];

/** A free-form property's value, or NULL. */
function propertyExpr(dialect: Dialect, key: string): Expr {
  return dialect === 'postgres' ? sql`(g.properties::json ->> ${key})` : sql`json_extract(g.properties, ${'$."' + key.replace(/["\\]/g, '\\$&') + '"'})`;
}

/** Attributes that are plain NOT NULL columns: sorted as they are, so an index can give their order. */
const NEVER_NULL = new Set(['id', 'name', 'owner', 'created_at', 'updated_at']);

/** Sorting and keyset comparisons treat NULL as the smallest value, as Glance does. */
const sortable = (key: string) => {
  const a = ATTRIBUTES[key];
  if (NEVER_NULL.has(key)) return a.expr;
  return a.kind === 'text' ? sql`COALESCE(${a.expr}, '')` : sql`COALESCE(${a.expr}, -1)`;
};

function valueCondition(dialect: Dialect, key: string, raw: string): Expr {
  const a = ATTRIBUTES[key];
  const expr = a?.expr ?? propertyExpr(dialect, key);
  const kind = a?.kind ?? 'text';
  if (key === 'created_at' || key === 'updated_at') {
    const m = /^(gt|gte|lt|lte|eq|neq):(.*)$/.exec(raw);
    const t = Date.parse(m ? m[2] : raw);
    if (Number.isNaN(t)) throw badRequest(`Invalid time format for ${key}.`);
    const op = { gt: '>', gte: '>=', lt: '<', lte: '<=', neq: '<>', eq: '=' }[m?.[1] ?? 'eq']!;
    return sql`${expr} ${sql.raw(op)} ${t}`;
  }
  const wanted = raw.startsWith('in:') ? raw.slice(3).split(',') : [raw];
  const typed = wanted.map((w) => {
    if (kind === 'text') return w;
    if (kind === 'bool') {
      if (w !== 'true' && w !== 'false') throw badRequest(`Invalid value for ${key}: ${w}`);
      return w === 'true' ? 1 : 0;
    }
    if (!/^-?\d+$/.test(w)) throw badRequest(`Invalid value for ${key}: ${w}`);
    return Number(w);
  });
  return sql`${expr} IN (${sql.join(typed)})`;
}

/** GET /v2/images: the viewer's own, public, accepted-shared images (community and other member states by filter). */
export async function listImages(services: Pick<Services, 'db' | 'regions' | 'dialect'>, viewer: Identity, q: ListQuery): Promise<GlanceImage[]> {
  const { db, dialect } = services;
  for (const s of q.sort) if (!SORT_KEYS.includes(s.key)) throw badRequest(`Invalid sort key: ${s.key}`);
  const f = q.filters;
  const me = viewer.id;
  const own = sql`i.owner_id = ${me}`;
  const vis = ATTRIBUTES.visibility.expr;
  const member = sql`(CASE WHEN EXISTS (SELECT 1 FROM image_shares s WHERE s.image_id = i.id AND s.account_id = ${me}) THEN 'accepted'
    ELSE (SELECT m.status FROM glance_members m WHERE m.image_id = i.id AND m.member_id = ${me}) END)`;
  const memberStatus = f.member_status ?? 'accepted';
  const isMember = memberStatus === 'all' ? sql`${member} IS NOT NULL` : sql`${member} = ${memberStatus}`;

  const where: Expr[] = [
    sql`i.region = ${openstackRegion(services)}`,
    sql`(${own} OR i.category <> 'self' OR i.is_public = 1 OR ${member} IS NOT NULL)`,
  ];
  if (f.visibility) {
    if (f.visibility !== 'all') where.push(sql`${vis} = ${f.visibility}`);
    where.push(sql`(${vis} <> 'shared' OR ${own} OR ${isMember})`);
  } else {
    where.push(sql`(${vis} <> 'community' OR ${own})`);
    where.push(sql`(${own} OR ${vis} = 'public' OR ${isMember})`);
    if (f.member_status) where.push(sql`NOT (${own})`);
  }
  if (!viewer.isAdmin) where.push(sql`(${vis} <> 'private' OR ${own})`);
  const hidden = f.os_hidden ?? 'false';
  if (hidden === 'false') where.push(sql`${ATTRIBUTES.os_hidden.expr} = 0`);
  if (hidden === 'true') where.push(sql`${ATTRIBUTES.os_hidden.expr} = 1`);
  for (const [k, v] of Object.entries(f)) {
    if (['visibility', 'member_status', 'os_hidden'].includes(k)) continue;
    if (k === 'size_min' || k === 'size_max') {
      if (!/^\d+$/.test(v)) throw badRequest(`Invalid value for ${k}: ${v}`);
      where.push(sql`${ATTRIBUTES.size.expr} ${sql.raw(k === 'size_min' ? '>=' : '<=')} ${Number(v)}`);
    } else where.push(valueCondition(dialect, k, v));
  }
  where.push(...(q.where ?? []));
  for (const t of q.tags) where.push(sql`EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'image' AND t.resource_id = i.id AND t.tag_key = ${t})`);

  const sorts = q.sort.length ? [...q.sort] : [{ key: 'created_at', dir: 'desc' as const }];
  if (!sorts.some((s) => s.key === 'id')) sorts.push({ key: 'id', dir: sorts[0].dir });
  const from = sql`images i LEFT JOIN glance_images g ON g.image_id = i.id`;
  const all = (conds: Expr[]) => sql.join(conds, sql` AND `);

  if (q.marker !== undefined) {
    const cols = sql.join(sorts.map((s, n) => sql`${sortable(s.key)} AS ${sql.ref(`k${n}`)}`));
    const markerRow = (await sql<Record<string, unknown>>`SELECT ${cols} FROM ${from} WHERE ${all([...where.slice(0, 2), sql`i.id = ${q.marker}`])}`.execute(db)).rows[0];
    if (!markerRow) throw badRequest(`marker ${q.marker} could not be found.`);
    // (k0, k1, …) strictly after the marker's values in the sort order.
    const after = sorts.map((s, n) => {
      const equalBefore = sorts.slice(0, n).map((p, m) => sql`${sortable(p.key)} = ${markerRow[`k${m}`]}`);
      return sql`(${all([...equalBefore, sql`${sortable(s.key)} ${sql.raw(s.dir === 'asc' ? '>' : '<')} ${markerRow[`k${n}`]}`])})`;
    });
    where.push(sql`(${sql.join(after, sql` OR `)})`);
  }
  const order = sql.join(sorts.map((s) => sql`${sortable(s.key)} ${sql.raw(s.dir === 'asc' ? 'ASC' : 'DESC')}`));
  // The page's images come as the query that finds them reads them (one document each, tags included), not again by ID.
  const rows = (await sql<{ doc: string }>`SELECT ${glanceDocument(db)} AS doc FROM ${from} WHERE ${all(where)} ORDER BY ${order} LIMIT ${q.limit}`.execute(db)).rows;
  return rows.map((r) => glanceView(fromDocument(r.doc)));
}
