/**
 * IMS's TMS-style image tags: key/value pairs on the ECS tag rows (the rules of domain/image-rules.ts
 * checkTags). Only the owner changes them; the project-wide list groups values by key.
 */
import { apiError } from '../../domain/errors.ts';
import { checkTags, type Tag } from '../../domain/image-rules.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { getImage } from '../glance/images.ts';
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
