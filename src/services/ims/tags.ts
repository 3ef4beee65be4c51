/**
 * IMS's TMS-style image tags: key/value pairs on the ECS tag rows (the rules of domain/image-rules.ts
 * checkTags). Only the owner changes them; the project-wide list groups values by key; the query by tags
 * filters or counts the project's own images.
 */
import { apiError } from '../../domain/errors.ts';
import { checkTags, TAG_QUERY_LIMITS, type Tag } from '../../domain/image-rules.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { getImage, glanceRowsOf } from '../glance/images.ts';
import { openstackRegion } from '../glance/region.ts';
import { tagsOf, type TagList } from '../tags.ts';

async function requireOwnImage(services: Services, viewer: Identity, imageId: string): Promise<void> {
  const img = await getImage(services, viewer, imageId);
  if (img.owner !== viewer.id) throw apiError('OpenStack.Forbidden', `Image ${imageId} is not owned by project ${viewer.id}.`);
}

export async function imageTags(services: Services, viewer: Identity, imageId: string): Promise<TagList> {
  await getImage(services, viewer, imageId);
  return (await tagsOf(services, [imageId]))(imageId);
}

/** Adds or overwrites tags by key; the result must still pass the tag rules as a whole. */
export async function putImageTags(services: Services, viewer: Identity, imageId: string, tags: { key?: unknown; value?: unknown }[]): Promise<void> {
  await requireOwnImage(services, viewer, imageId);
  const current = (await tagsOf(services, [imageId]))(imageId);
  const merged = new Map(current.map((t) => [t.key.toLowerCase(), { Key: t.key, Value: t.value }]));
  for (const t of tags) merged.set(String(t.key ?? '').toLowerCase(), { Key: String(t.key ?? ''), Value: String(t.value ?? '') });
  const checked: Tag[] = checkTags([...merged.values()]);
  await services.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('tags').where('resource_type', '=', 'image').where('resource_id', '=', imageId).execute();
    if (checked.length) await trx.insertInto('tags').values(checked.map((t) => ({ resource_id: imageId, resource_type: 'image', tag_key: t.key, tag_value: t.value }))).execute();
  });
}

export async function deleteImageTags(services: Services, viewer: Identity, imageId: string, keys: string[]): Promise<void> {
  await requireOwnImage(services, viewer, imageId);
  if (keys.length) await services.db.deleteFrom('tags').where('resource_type', '=', 'image').where('resource_id', '=', imageId).where('tag_key', 'in', keys).execute();
}

/** Every tag key on the project's own images, with its values. */
export async function projectImageTags(services: Pick<Services, 'db'>, viewer: Identity): Promise<{ key: string; values: string[] }[]> {
  const rows = await services.db.selectFrom('tags').innerJoin('images', 'images.id', 'tags.resource_id').select(['tags.tag_key', 'tags.tag_value'])
    .where('tags.resource_type', '=', 'image').where('images.owner_id', '=', viewer.id).orderBy('tags.tag_key').orderBy('tags.tag_value').execute();
  const byKey = new Map<string, Set<string>>();
  for (const r of rows) byKey.set(r.tag_key, (byKey.get(r.tag_key) ?? new Set()).add(r.tag_value));
  return [...byKey].map(([key, values]) => ({ key, values: [...values] }));
}

/** `{key, values}`: the key with one of the values, or with any value when `values` is empty. */
export interface TagMatch {
  key: string;
  values: string[];
}

/** The body of POST /v2/{project_id}/images/resource_instances/action (the SDK's ListImageByTagsRequestBody). */
export interface TagQuery {
  action: 'filter' | 'count';
  tags: TagMatch[];
  tagsAny: TagMatch[];
  notTags: TagMatch[];
  notTagsAny: TagMatch[];
  withoutAnyTag: boolean;
  /** `matches` with key `resource_name`: the name contains the value. */
  nameContains?: string;
  limit: number;
  offset: number;
}


const badQuery = (msg: string) => apiError('OpenStack.BadRequest', msg);

function tagMatches(v: unknown, field: string): TagMatch[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > TAG_QUERY_LIMITS.tags) throw badQuery(`${field} must be a list of at most ${TAG_QUERY_LIMITS.tags} {key, values}`);
  return v.map((t: unknown, i) => {
    const o = (t ?? {}) as { key?: unknown; values?: unknown };
    if (typeof o.key !== 'string' || o.key === '' || o.key.length > 128) throw badQuery(`${field}[${i}].key must be a string of 1 to 128 characters`);
    const values = o.values ?? [];
    if (!Array.isArray(values) || values.length > TAG_QUERY_LIMITS.values || values.some((x) => typeof x !== 'string')) {
      throw badQuery(`${field}[${i}].values must be a list of at most ${TAG_QUERY_LIMITS.values} strings`);
    }
    return { key: o.key, values: values as string[] };
  });
}

function pageNumber(v: unknown, field: string, fallback: number, min: number, max: number): number {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw badQuery(`${field} must be an integer from ${min} to ${max}`);
  return n;
}

export function parseTagQuery(body: Record<string, unknown>): TagQuery {
  if (body.action !== 'filter' && body.action !== 'count') throw badQuery('action must be filter or count');
  if (body.without_any_tag !== undefined && typeof body.without_any_tag !== 'boolean') throw badQuery('without_any_tag must be a boolean');
  let nameContains: string | undefined;
  if (body.matches !== undefined) {
    if (!Array.isArray(body.matches)) throw badQuery('matches must be a list of {key, value}');
    for (const m of body.matches as { key?: unknown; value?: unknown }[]) {
      if (m?.key !== 'resource_name' || typeof m.value !== 'string') throw badQuery('matches supports {"key": "resource_name", "value": "…"} only');
      nameContains = m.value;
    }
  }
  return {
    action: body.action, tags: tagMatches(body.tags, 'tags'), tagsAny: tagMatches(body.tags_any, 'tags_any'), notTags: tagMatches(body.not_tags, 'not_tags'),
    notTagsAny: tagMatches(body.not_tags_any, 'not_tags_any'), withoutAnyTag: body.without_any_tag === true, nameContains,
    limit: pageNumber(body.limit, 'limit', TAG_QUERY_LIMITS.page, 1, TAG_QUERY_LIMITS.page), offset: pageNumber(body.offset, 'offset', 0, 0, 2 ** 31 - 1),
  };
}

export interface TaggedImage {
  resource_id: string;
  resource_name: string;
  resource_detail: { status: string };
  tags: TagList;
}

/**
 * The project's own images in the region that match a tag query (TMS semantics: `tags` all hold, `tags_any`
 * one holds, `not_tags` not all hold, `not_tags_any` none holds), by creation time; with the total.
 */
export async function imagesByTags(services: Services, viewer: Identity, q: TagQuery): Promise<{ total: number; resources: TaggedImage[] }> {
  const rows = await services.db.selectFrom('images').select(['id', 'name']).where('owner_id', '=', viewer.id).where('region', '=', openstackRegion(services))
    .where('category', '=', 'self').orderBy('created_at').orderBy('id').execute();
  const tagsById = await tagsOf(services, rows.map((r) => r.id));
  const holds = (tags: TagList, m: TagMatch) => tags.some((t) => t.key === m.key && (m.values.length === 0 || m.values.includes(t.value)));
  const matching = rows.filter((r) => {
    const tags = tagsById(r.id);
    if (q.nameContains !== undefined && !r.name.includes(q.nameContains)) return false;
    if (q.withoutAnyTag) return tags.length === 0;
    if (!q.tags.every((m) => holds(tags, m))) return false;
    if (q.tagsAny.length && !q.tagsAny.some((m) => holds(tags, m))) return false;
    if (q.notTags.length && q.notTags.every((m) => holds(tags, m))) return false;
    return !q.notTagsAny.some((m) => holds(tags, m));
  });
  if (q.action === 'count') return { total: matching.length, resources: [] };
  const page = matching.slice(q.offset, q.offset + q.limit);
  const views = new Map((await glanceRowsOf(services.db, page.map((r) => r.id))).map((g) => [g.id, g]));
  return {
    total: matching.length,
    resources: page.map((r) => ({ resource_id: r.id, resource_name: r.name, resource_detail: { status: views.get(r.id)?.status ?? 'queued' }, tags: tagsById(r.id) })),
  };
}
