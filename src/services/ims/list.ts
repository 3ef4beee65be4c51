/**
 * GET /v2/cloudimages: Glance's listing (status, name, min_disk, disk_format, member_status, created_at and
 * updated_at with gt:/lt:, marker, limit, sort) plus IMS's own filters, read from the ECS row.
 */
import { apiError } from '../../domain/errors.ts';
import { imageKindOf } from '../../domain/image-kinds.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { listImages, MAX_LIST_LIMIT, type GlanceImage } from '../glance/images.ts';

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

export async function listCloudImages(services: Pick<Services, 'db' | 'regions'>, viewer: Identity, q: ImsListQuery): Promise<GlanceImage[]> {
  const f = q.filters;
  const glanceFilters: Record<string, string> = {};
  for (const k of GLANCE_FILTERS) if (f[k] !== undefined) glanceFilters[k] = f[k];
  const type = f.__imagetype === undefined ? undefined : oneOf(f.__imagetype, IMS_IMAGE_TYPES, '__imagetype');
  const visibility = f.visibility === undefined ? undefined : oneOf(f.visibility, ['public', 'private', 'shared'], 'visibility');
  const env = f.virtual_env_type === undefined ? undefined : oneOf(f.virtual_env_type, VIRTUAL_ENV_TYPES, 'virtual_env_type');
  const whole = f.__whole_image === undefined ? undefined : oneOf(f.__whole_image, ['true', 'false'], '__whole_image') === 'true';
  const osType = f.__os_type === undefined ? undefined : oneOf(f.__os_type, ['Linux', 'Windows', 'Other'], '__os_type');
  return listImages(services, viewer, {
    filters: glanceFilters, tags: f.tag === undefined ? [] : [f.tag], sort: q.sort, limit: Math.min(q.limit, MAX_LIST_LIMIT), marker: q.marker,
    where: (img) => {
      const t = imsImageType(img, viewer);
      return (type === undefined || t === type) && (visibility === undefined || imsVisibility(t) === visibility)
        && (env === undefined || virtualEnvType(img) === env) && (whole === undefined || (imageKindOf(img.row.image_kind) === 'whole') === whole)
        && (osType === undefined || imsOsType(img.row.os_type) === osType) && (f.__platform === undefined || img.row.platform === f.__platform);
    },
  });
}
