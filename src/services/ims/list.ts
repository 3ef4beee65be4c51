/**
 * GET /v2/cloudimages: Glance's listing (status, name, min_disk, disk_format, member_status, created_at and
 * updated_at with gt:/lt:, marker, limit, sort) plus IMS's own filters, read from the ECS row.
 */
import { sql, type RawBuilder } from 'kysely';
import { apiError } from '../../domain/errors.ts';
import { imageKindOf } from '../../domain/image-kinds.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import type { GlanceImage } from '../glance/images.ts';
import { listImages, MAX_LIST_LIMIT } from '../glance/list.ts';

export const IMS_IMAGE_TYPES = ['gold', 'private', 'shared', 'market'] as const;
export type ImsImageType = (typeof IMS_IMAGE_TYPES)[number];
export const VIRTUAL_ENV_TYPES = ['FusionCompute', 'Ironic', 'DataImage', 'IsoImage'] as const;

/** What `__imagetype` an image has for `viewer`: public (gold), Marketplace, own (private) or shared with it. */
export function imsImageType(img: GlanceImage, viewer: Identity): ImsImageType {
  if (img.row.category === 'system') return 'gold';
  if (img.row.category === 'marketplace') return 'market';
  return img.owner === viewer.id ? 'private' : 'shared';
}

/** `virtual_env_type`: data disk images are DataImage; everything else here runs on KVM (FusionCompute). */
export function virtualEnvType(img: GlanceImage): string {
  return imageKindOf(img.row.image_kind) === 'data' ? 'DataImage' : 'FusionCompute';
}

export function imsOsType(osType: string): string {
  return osType === 'windows' ? 'Windows' : osType === 'linux' ? 'Linux' : 'Other';
}

/** IMS's visibility: public images are gold or Marketplace; private are own; shared are others' shared with the viewer. */
export function imsVisibility(type: ImsImageType): string {
  return type === 'gold' || type === 'market' ? 'public' : type;
}

/** Filters handed to Glance's listing as they are. */
const GLANCE_FILTERS = ['status', 'name', 'min_disk', 'min_ram', 'disk_format', 'container_format', 'member_status', 'created_at', 'updated_at', 'id', 'owner', 'protected'];

export interface ImsListQuery {
  filters: Record<string, string>;
  limit: number;
  marker?: string;
  sort: { key: string; dir: 'asc' | 'desc' }[];
}

function oneOf(value: string, allowed: readonly string[], what: string): string {
  if (!allowed.includes(value)) throw apiError('OpenStack.BadRequest', `Invalid ${what} '${value}'. Valid values: ${allowed.join(', ')}`);
  return value;
}

/** `__imagetype` as SQL: gold = public catalog, market = Marketplace, private = own custom, shared = others' custom. */
function imageTypeCondition(type: ImsImageType, viewer: Identity): RawBuilder<unknown> {
  switch (type) {
    case 'gold': return sql`i.category = 'system'`;
    case 'market': return sql`i.category = 'marketplace'`;
    case 'private': return sql`(i.category = 'self' AND i.owner_id = ${viewer.id})`;
    case 'shared': return sql`(i.category = 'self' AND i.owner_id <> ${viewer.id})`;
  }
}

/** IMS's own filters, evaluated in the database like Glance's so that marker paging stays exact. */
function imsConditions(f: Record<string, string>, viewer: Identity): RawBuilder<unknown>[] {
  const where: RawBuilder<unknown>[] = [];
  if (f.__imagetype !== undefined) where.push(imageTypeCondition(oneOf(f.__imagetype, IMS_IMAGE_TYPES, '__imagetype') as ImsImageType, viewer));
  if (f.visibility !== undefined) {
    const v = oneOf(f.visibility, ['public', 'private', 'shared'], 'visibility');
    where.push(v === 'public' ? sql`i.category <> 'self'` : imageTypeCondition(v as ImsImageType, viewer));
  }
  if (f.virtual_env_type !== undefined) {
    const env = oneOf(f.virtual_env_type, VIRTUAL_ENV_TYPES, 'virtual_env_type');
    where.push(env === 'DataImage' ? sql`i.image_kind = 'data'` : env === 'FusionCompute' ? sql`i.image_kind <> 'data'` : sql`1 = 0`);
  }
  if (f.__whole_image !== undefined) {
    where.push(oneOf(f.__whole_image, ['true', 'false'], '__whole_image') === 'true' ? sql`i.image_kind = 'whole'` : sql`i.image_kind <> 'whole'`);
  }
  if (f.__os_type !== undefined) {
    const os = oneOf(f.__os_type, ['Linux', 'Windows', 'Other'], '__os_type');
    where.push(os === 'Other' ? sql`i.os_type NOT IN ('windows', 'linux')` : sql`i.os_type = ${os.toLowerCase()}`);
  }
  if (f.__platform !== undefined) where.push(sql`i.platform = ${f.__platform}`);
  return where;
}

export async function listCloudImages(services: Pick<Services, 'db' | 'regions' | 'dialect'>, viewer: Identity, q: ImsListQuery): Promise<GlanceImage[]> {
  const f = q.filters;
  const glanceFilters: Record<string, string> = {};
  for (const k of GLANCE_FILTERS) if (f[k] !== undefined) glanceFilters[k] = f[k];
  return listImages(services, viewer, {
    filters: glanceFilters, tags: f.tag === undefined ? [] : [f.tag], sort: q.sort, limit: Math.min(q.limit, MAX_LIST_LIMIT), marker: q.marker,
    where: imsConditions(f, viewer),
  });
}
