/**
 * Glance v2 use cases over the ECS image model: a Glance image is an ECS image (same row, same id, same
 * snapshots and chunks) plus a `glance_images` row for what ECS has no column for. Tags are ECS tags with an
 * empty value; an accepted member is an ECS share; statuses map through domain/glance-status.ts.
 */
import type { Kysely } from 'kysely';
import type { Database, GlanceImageRow, ImageRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import {
  BASE_ATTRIBUTES, CONTAINER_FORMATS, DISK_FORMATS, ecsStatusOf, glanceStatusOf, READ_ONLY_ATTRIBUTES, VISIBILITIES, type GlanceStatus,
} from '../../domain/glance-status.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { assertImageQuota, insertImage } from '../images/rows.ts';
import { lockImageIn } from '../../store/locks.ts';
import { dropSnapshotsIn, releaseManifestIn } from '../images/manifest-holds.ts';
import { openstackRegion } from './region.ts';
import { imagesWithGlanceRows, type GlanceFound } from './rows.ts';
import { applyLocationOp, parseLocations, type ImageLocation, type LocationState } from './locations.ts';

export interface GlanceImage {
  id: string;
  name: string | null;
  status: GlanceStatus;
  visibility: string;
  protected: boolean;
  os_hidden: boolean;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  size: number | null;
  virtual_size: number | null;
  min_disk: number;
  min_ram: number;
  disk_format: string | null;
  container_format: string | null;
  owner: string;
  tags: string[];
  created_at: number;
  updated_at: number;
  properties: Record<string, string>;
  /** The http(s) locations a client added (services/glance/locations.ts). */
  externalLocations: ImageLocation[];
  /** Whether the chunk store holds the image's data. */
  stored: boolean;
  /** For the service, not the wire. */
  fileManifestId: string;
  region: string;
  /** The ECS row behind it (kind, OS facts, category), for surfaces that show more than Glance does. */
  row: ImageRow;
}

const notFound = (id: string) => apiError('OpenStack.NotFound', `No image found with ID ${id}`);
const forbidden = (msg: string) => apiError('OpenStack.Forbidden', msg);
const badRequest = (msg: string) => apiError('OpenStack.BadRequest', msg);

function defaultGlanceRow(image: ImageRow, shared: boolean): GlanceImageRow {
  return {
    image_id: image.id, disk_format: image.category === 'self' && image.source_kind !== 'glance' ? 'raw' : '', container_format: image.source_kind !== 'glance' ? 'bare' : '',
    visibility: image.category !== 'self' ? 'public' : image.is_public ? 'community' : shared ? 'shared' : 'shared',
    protected: 0, os_hidden: 0, min_disk: image.size_gib, min_ram: 0, size: null, virtual_size: null, checksum: '', os_hash_algo: '', os_hash_value: '',
    file_manifest_id: '', phase: '', stage_path: '', stage_node: '', stage_md5: '', stage_sha512: '', properties: '{}', locations: '[]',
  };
}

/** The Glance view of an image read with its glance_images row and tag keys (rows.ts). */
export function glanceView({ image, glance: g, tags }: GlanceFound): GlanceImage {
  const row = g ?? defaultGlanceRow(image, false);
  const nz = (s: string) => (s === '' ? null : s);
  const status = glanceStatusOf(image.status, row.phase);
  return {
    id: image.id, name: image.name === '' && g ? null : image.name, status, visibility: row.visibility,
    protected: row.protected === 1, os_hidden: row.os_hidden === 1, checksum: nz(row.checksum), os_hash_algo: nz(row.os_hash_algo), os_hash_value: nz(row.os_hash_value),
    size: row.size === null ? (g ? null : image.size_gib * 1024 ** 3) : Number(row.size), virtual_size: row.virtual_size === null ? (g ? null : image.size_gib * 1024 ** 3) : Number(row.virtual_size),
    min_disk: row.min_disk, min_ram: row.min_ram, disk_format: nz(row.disk_format), container_format: nz(row.container_format),
    owner: image.owner_id, tags, created_at: image.created_at, updated_at: image.updated_at,
    properties: JSON.parse(row.properties) as Record<string, string>, fileManifestId: row.file_manifest_id,
    externalLocations: parseLocations(row.locations),
    stored: row.file_manifest_id !== '' || (image.source_kind !== 'glance' && (status === 'active' || status === 'deactivated')), region: image.region, row: image,
  };
}

/** Whether `viewer` may see the image: own, public/community, or a member (pending and rejected members too, by ID). */
async function memberStatus(db: Kysely<Database>, imageId: string, viewer: string): Promise<'accepted' | 'pending' | 'rejected' | undefined> {
  if (await db.selectFrom('image_shares').select('image_id').where('image_id', '=', imageId).where('account_id', '=', viewer).executeTakeFirst()) return 'accepted';
  const m = await db.selectFrom('glance_members').select('status').where('image_id', '=', imageId).where('member_id', '=', viewer).executeTakeFirst();
  return m?.status as 'pending' | 'rejected' | undefined;
}

/** The Glance view of these images (any order; unknown ids are left out), with no visibility check. */
export async function glanceRowsOf(db: Kysely<Database>, ids: string[]): Promise<GlanceImage[]> {
  return (await imagesWithGlanceRows(db, ids)).map(glanceView);
}

/** The image as `viewer` may see it, in the OpenStack region unless another is named; 404 when not visible. */
export async function getImage(services: Pick<Services, 'db' | 'regions' | 'glanceLookups'>, viewer: Identity, id: string, region = openstackRegion(services)): Promise<GlanceImage> {
  const { db } = services;
  const found = await services.glanceLookups(region, id);
  if (!found) throw notFound(id);
  const out = glanceView(found);
  if (found.image.owner_id !== viewer.id && !viewer.isAdmin && out.visibility !== 'public' && out.visibility !== 'community' && !(await memberStatus(db, id, viewer.id))) throw notFound(id);
  return out;
}

async function requireOwn(services: Pick<Services, 'db' | 'regions' | 'glanceLookups'>, viewer: Identity, id: string): Promise<GlanceImage> {
  const img = await getImage(services, viewer, id);
  if (img.owner !== viewer.id && !viewer.isAdmin) throw forbidden('You are not permitted to modify this image.');
  return img;
}

function checkEnum(value: unknown, allowed: readonly string[], what: string): string {
  if (typeof value !== 'string' || !allowed.includes(value)) throw badRequest(`Invalid value '${String(value)}' for ${what}. Valid values: ${allowed.join(', ')}`);
  return value;
}

/** Only an admin may say whose an image is (any project id, as Glance allows). */
function ownerAttr(viewer: Identity, v: unknown): string {
  if (!viewer.isAdmin) throw forbidden('Attribute \'owner\' can only be set by an administrator.');
  if (typeof v !== 'string' || v === '' || v.length > 255) throw badRequest('Invalid owner: must be a string of 1 to 255 characters');
  return v;
}

function checkVisibility(viewer: Identity, v: unknown): string {
  const vis = checkEnum(v, VISIBILITIES, 'visibility');
  if (vis === 'public' && !viewer.isAdmin) throw forbidden('You are not authorized to complete publicize_image action.');
  return vis;
}

export interface ImageAttrs {
  [key: string]: unknown;
}

/** POST /v2/images (IMS's GlanceCreateImageMetadata too, with `shareFamily` 'ims': Huawei's image rules). */
export async function createImage(services: Services, viewer: Identity, body: ImageAttrs, opts: { shareFamily?: string } = {}): Promise<GlanceImage> {
  const region = services.regions.require(openstackRegion(services));
  for (const k of READ_ONLY_ATTRIBUTES) if (k !== 'id' && k !== 'owner' && body[k] !== undefined) throw forbidden(`Attribute '${k}' is read-only.`);
  const owner = body.owner === undefined ? viewer.id : ownerAttr(viewer, body.owner);
  for (const k of Object.keys(body)) if (k.startsWith('os_glance')) throw forbidden(`Attribute '${k}' is reserved.`);
  const id = body.id === undefined ? newResourceId('image', region.infix) : String(body.id);
  if (body.id !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw badRequest(`Invalid id '${id}'`);
  if (await services.db.selectFrom('images').select('id').where('id', '=', id).executeTakeFirst()) throw apiError('OpenStack.Conflict', `Image with identifier ${id} already exists!`);
  const name = body.name === undefined || body.name === null ? '' : body.name;
  if (typeof name !== 'string' || name.length > 255) throw badRequest('Invalid name: must be a string of at most 255 characters');
  const g: GlanceImageRow = {
    ...defaultGlanceRow({ id, category: 'self', source_kind: 'glance', is_public: 0, size_gib: 0 } as ImageRow, false),
    visibility: body.visibility === undefined ? 'shared' : checkVisibility(viewer, body.visibility),
  };
  applyAttrs(g, body, true);
  const tags = body.tags === undefined ? [] : checkTags(body.tags);
  await assertImageQuota(services, region.id, viewer.id, services.limits.imageQuota);
  const now = services.clock.now();
  await services.db.transaction().execute(async (trx) => {
    await insertImage(trx, {
      id, region: region.id, owner_id: owner, name, status: ecsStatusOf('queued').ecs, source_kind: 'glance', source_id: '',
      is_public: g.visibility === 'public' || g.visibility === 'community' ? 1 : 0, size_gib: 0, share_family: opts.shareFamily ?? '',
    }, [], tags.map((t) => ({ key: t, value: '' })), now, services.limits.imageQuota);
    await trx.insertInto('glance_images').values(g).execute();
  });
  return getImage(services, viewer, id);
}

function checkTags(v: unknown): string[] {
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || t.length > 255)) throw badRequest('Invalid tags: a list of strings of at most 255 characters');
  return [...new Set(v as string[])];
}

function intAttr(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) throw badRequest(`Invalid value for ${what}: must be a non-negative integer`);
  return v;
}

/** Writes base attributes and free-form properties from `attrs` into the row (visibility and tags are checked by the caller). */
function applyAttrs(g: GlanceImageRow, attrs: ImageAttrs, creating: boolean): void {
  const props = JSON.parse(g.properties) as Record<string, string>;
  for (const [k, v] of Object.entries(attrs)) {
    switch (k) {
      case 'id': case 'name': case 'tags': case 'visibility': case 'owner': break;
      case 'disk_format': g.disk_format = v === null ? '' : checkEnum(v, DISK_FORMATS, 'disk_format'); break;
      case 'container_format': g.container_format = v === null ? '' : checkEnum(v, CONTAINER_FORMATS, 'container_format'); break;
      case 'protected': case 'os_hidden':
        if (typeof v !== 'boolean') throw badRequest(`Invalid value for ${k}: must be a boolean`);
        g[k] = v ? 1 : 0;
        break;
      case 'min_disk': case 'min_ram': g[k] = intAttr(v, k); break;
      default:
        if (!creating && (READ_ONLY_ATTRIBUTES as readonly string[]).includes(k)) throw forbidden(`Attribute '${k}' is read-only.`);
        if (v === undefined) delete props[k];
        else {
          if (typeof v !== 'string') throw badRequest(`Invalid value for property '${k}': additional properties must be strings`);
          if (k.length > 255 || v.length > 65535) throw badRequest(`Property '${k}' is too long`);
          props[k] = v;
        }
    }
  }
  g.properties = JSON.stringify(props);
}

export interface PatchOp {
  op: string;
  path: string;
  value?: unknown;
}

/**
 * An operation in either media type: v2.1 `{"op":"replace","path":"/name","value":…}` or v2.0
 * `{"replace":"/name","value":…}`.
 */
function normalizedOp(raw: unknown): PatchOp | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o.op === 'string') return o as unknown as PatchOp;
  const name = ['add', 'replace', 'remove'].find((k) => typeof o[k] === 'string');
  return name ? { op: name, path: o[name] as string, value: o.value } : undefined;
}

/** PATCH /v2/images/{id} with a JSON-patch (add/replace/remove) list. */
export async function patchImage(services: Services, viewer: Identity, id: string, ops: PatchOp[]): Promise<GlanceImage> {
  const { db } = services;
  const img = await requireOwn(services, viewer, id);
  const g = (await db.selectFrom('glance_images').selectAll().where('image_id', '=', id).executeTakeFirst()) ?? defaultGlanceRow(
    await db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirstOrThrow(), false);
  let name = img.name ?? '';
  let tags = img.tags;
  let visibility = g.visibility;
  const props = JSON.parse(g.properties) as Record<string, string>;
  let owner = img.owner;
  const loc: LocationState = {
    id, region: img.region, status: img.status, stored: img.stored, external: img.externalLocations,
    size: img.size, checksum: img.checksum, os_hash_algo: img.os_hash_algo, os_hash_value: img.os_hash_value,
  };
  let locationsChanged = false;
  for (const raw of ops) {
    const op = normalizedOp(raw);
    if (!op || typeof op.path !== 'string' || !['add', 'replace', 'remove'].includes(op.op)) throw badRequest(`Unable to change: unsupported operation ${JSON.stringify(op)}`);
    const key = op.path.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
    if (key === 'locations' || key.startsWith('locations/')) {
      await applyLocationOp(services, loc, op.op, key, op.value);
      locationsChanged = true;
      continue;
    }
    if (key === '' || key.includes('/')) throw badRequest(`Invalid JSON pointer for this resource: '${op.path}'`);
    if (key === 'owner' && op.op !== 'remove') {
      owner = ownerAttr(viewer, op.value);
      continue;
    }
    if ((READ_ONLY_ATTRIBUTES as readonly string[]).includes(key)) throw forbidden(`Attribute '${key}' is read-only.`);
    if (key.startsWith('os_glance')) throw forbidden(`Attribute '${key}' is reserved.`);
    const isBase = (BASE_ATTRIBUTES as readonly string[]).includes(key);
    if (op.op === 'remove') {
      if (isBase) throw forbidden(`Attribute '${key}' cannot be removed.`);
      if (!(key in props)) throw apiError('OpenStack.Conflict', `Property ${key} does not exist.`);
      delete props[key];
      continue;
    }
    if (op.op === 'replace' && !isBase && !(key in props)) throw apiError('OpenStack.Conflict', `Property ${key} does not exist.`);
    if ((key === 'disk_format' || key === 'container_format') && img.status !== 'queued') throw forbidden(`Attribute ${key} can be only replaced for a queued image.`);
    if (key === 'name') {
      if (op.value !== null && (typeof op.value !== 'string' || op.value.length > 255)) throw badRequest('Invalid name');
      name = (op.value as string | null) ?? '';
    } else if (key === 'tags') tags = checkTags(op.value);
    else if (key === 'visibility') visibility = checkVisibility(viewer, op.value);
    else if (isBase) applyAttrs(g, { [key]: op.value }, false);
    else {
      if (typeof op.value !== 'string') throw badRequest(`Invalid value for property '${key}': additional properties must be strings`);
      props[key] = op.value;
    }
  }
  g.properties = JSON.stringify(props);
  g.visibility = visibility;
  if (locationsChanged) {
    g.locations = JSON.stringify(loc.external);
    Object.assign(g, { size: loc.size, checksum: loc.checksum ?? '', os_hash_algo: loc.os_hash_algo ?? '', os_hash_value: loc.os_hash_value ?? '' });
  }
  const activated = img.status === 'queued' && loc.status === 'active';
  const now = services.clock.now();
  await db.transaction().execute(async (trx) => {
    if (activated) {
      // An http location made the image active; another request may have started an upload meanwhile.
      const moved = await trx.updateTable('images').set({ status: ecsStatusOf('active').ecs, progress: 100, size_gib: Math.max(1, Math.ceil((loc.size ?? 0) / 1024 ** 3)) })
        .where('id', '=', id).where('status', '=', ecsStatusOf('queued').ecs).executeTakeFirst();
      const phase = await trx.selectFrom('glance_images').select('phase').where('image_id', '=', id).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1 || (phase?.phase ?? '') !== ecsStatusOf('queued').phase) throw apiError('OpenStack.Conflict', `Image ${id} is no longer queued.`);
    }
    await trx.insertInto('glance_images').values(g).onConflict((oc) => oc.column('image_id').doUpdateSet(g)).execute();
    await trx.updateTable('images').set({ name, owner_id: owner, is_public: visibility === 'public' || visibility === 'community' ? 1 : 0, updated_at: now }).where('id', '=', id).execute();
    await setTagsIn(trx, id, tags);
  });
  return getImage(services, viewer, id);
}

async function setTagsIn(trx: Kysely<Database>, id: string, tags: string[]): Promise<void> {
  await trx.deleteFrom('tags').where('resource_type', '=', 'image').where('resource_id', '=', id).execute();
  if (tags.length) await trx.insertInto('tags').values(tags.map((t) => ({ resource_id: id, resource_type: 'image', tag_key: t, tag_value: '' }))).execute();
}

export async function addTag(services: Services, viewer: Identity, id: string, tag: string): Promise<void> {
  const img = await requireOwn(services, viewer, id);
  if (tag.length > 255) throw badRequest('Tag too long');
  if (img.tags.includes(tag)) return;
  await services.db.transaction().execute(async (trx) => {
    // The cap holds under concurrent calls on any nodes: the image's row lock orders them.
    await lockImageIn(trx, id);
    const tags = await trx.selectFrom('tags').select('tag_key').where('resource_type', '=', 'image').where('resource_id', '=', id).execute();
    if (tags.some((t) => t.tag_key === tag)) return;
    if (tags.length >= MAX_TAGS) throw apiError('OpenStack.RequestEntityTooLarge', 'Maximum number of tags exceeded');
    await trx.insertInto('tags').values({ resource_id: id, resource_type: 'image', tag_key: tag, tag_value: '' }).execute();
    await trx.updateTable('images').set({ updated_at: services.clock.now() }).where('id', '=', id).execute();
  });
}

export async function removeTag(services: Services, viewer: Identity, id: string, tag: string): Promise<void> {
  const img = await requireOwn(services, viewer, id);
  if (!img.tags.includes(tag)) throw apiError('OpenStack.NotFound', `Tag ${tag} not found`);
  await services.db.deleteFrom('tags').where('resource_type', '=', 'image').where('resource_id', '=', id).where('tag_key', '=', tag).execute();
  await services.db.updateTable('images').set({ updated_at: services.clock.now() }).where('id', '=', id).execute();
}

/** DELETE /v2/images/{id}: refused while protected; drops the snapshots a Glance upload made, members and shares. */
export async function deleteImage(services: Services, viewer: Identity, id: string): Promise<void> {
  const { db } = services;
  const img = await requireOwn(services, viewer, id);
  if (img.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
  if (img.status === 'saving') throw apiError('OpenStack.Conflict', `Image ${id} is being uploaded.`);
  const now = services.clock.now();
  const row = await db.selectFrom('images').select('source_kind').where('id', '=', id).executeTakeFirstOrThrow();
  await db.transaction().execute(async (trx) => {
    if (row.source_kind === 'glance') {
      const snaps = await trx.selectFrom('image_disks').select('snapshot_id').where('image_id', '=', id).where('snapshot_id', '!=', '').execute();
      await dropSnapshotsIn(trx, snaps.map((s) => s.snapshot_id), now);
    }
    if (img.fileManifestId) await releaseManifestIn(trx, img.fileManifestId, now);
    await trx.deleteFrom('images').where('id', '=', id).execute();
    await trx.deleteFrom('image_disks').where('image_id', '=', id).execute();
    await trx.deleteFrom('tags').where('resource_id', '=', id).execute();
    await trx.deleteFrom('image_shares').where('image_id', '=', id).execute();
    await trx.deleteFrom('glance_members').where('image_id', '=', id).execute();
    await trx.deleteFrom('glance_images').where('image_id', '=', id).execute();
  });
}

/** deactivate / reactivate: active ⇄ deactivated (ECS Available ⇄ Deprecated). */
export async function setActive(services: Services, viewer: Identity, id: string, active: boolean): Promise<void> {
  const img = await requireOwn(services, viewer, id);
  const want: GlanceStatus = active ? 'active' : 'deactivated';
  if (img.status === want) return;
  if (img.status !== (active ? 'deactivated' : 'active')) throw forbidden(`Not allowed to ${active ? 'reactivate' : 'deactivate'} an image in status '${img.status}'`);
  await services.db.updateTable('images').set({ status: ecsStatusOf(want).ecs, updated_at: services.clock.now() }).where('id', '=', id).execute();
}

/** Glance's image_tag_quota default. */
export const MAX_TAGS = 128;
