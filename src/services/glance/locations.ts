/**
 * Glance's image locations (`show_multiple_locations`, PATCH `/locations`). An image's locations are the chunk
 * store's copy of its data (when it has one, shown as `chunks://REGION/ID`) followed by the http(s) URLs a client
 * added. Adding a URL to a queued image makes it active with no data of its own: Glance's http store, read-only;
 * `GET /file` then streams the first URL that answers. Every URL goes through the web-download fetcher's SSRF
 * checks, when it is added (a HEAD gives the image its size) and when it is read. `validation_data` sets the
 * image's hashes as Glance does: only while queued, and a value that differs from one already set is a conflict.
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { apiError } from '../../domain/errors.ts';
import type { GlanceStatus } from '../../domain/glance-status.ts';
import type { Services } from '../context.ts';
import { guardedFetch } from './web-download.ts';

export interface ImageLocation {
  url: string;
  metadata: Record<string, unknown>;
}

/** The store id of the chunk store's copy. */
export const CHUNK_STORE_ID = 'chunks';
/** Glance's `[DEFAULT] hashing_algorithm`, the one os_hash_algo the service computes and accepts. */
export const HASH_ALGO = 'sha512';

/** The fields of an image a locations operation reads and changes. */
export interface LocationState {
  id: string;
  region: string;
  status: GlanceStatus;
  /** Whether the chunk store holds the image's data (then it is the first location). */
  stored: boolean;
  /** The added http(s) locations. */
  external: ImageLocation[];
  size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
}

const badRequest = (msg: string) => apiError('OpenStack.BadRequest', msg);
const conflict = (msg: string) => apiError('OpenStack.Conflict', msg);

export const chunkLocation = (region: string, id: string): ImageLocation => ({ url: `chunks://${region}/${id}`, metadata: { store: CHUNK_STORE_ID } });

/** What `locations` shows. */
export function locationsOf(s: Pick<LocationState, 'id' | 'region' | 'stored' | 'external'>): ImageLocation[] {
  return [...(s.stored ? [chunkLocation(s.region, s.id)] : []), ...s.external];
}

export function parseLocations(json: string): ImageLocation[] {
  return JSON.parse(json) as ImageLocation[];
}

function checkLocation(v: unknown): { loc: ImageLocation; validation?: Record<string, unknown> } {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('Invalid location: must be an object with url and metadata');
  const { url, metadata, validation_data: validation, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length) throw badRequest(`Invalid location: unknown keys ${Object.keys(rest).join(', ')}`);
  if (typeof url !== 'string' || url.length === 0 || url.length > 255) throw badRequest('Invalid location: url must be a string of 1 to 255 characters');
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw badRequest('Invalid location: metadata must be an object');
  if (validation !== undefined && (!validation || typeof validation !== 'object' || Array.isArray(validation))) throw badRequest('Invalid location: validation_data must be an object');
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw badRequest(`Invalid location: ${url}`);
  }
  if (scheme !== 'http:' && scheme !== 'https:') throw badRequest(`Invalid location: the scheme ${scheme} is not http or https`);
  return { loc: { url, metadata: metadata as Record<string, unknown> }, validation: validation as Record<string, unknown> | undefined };
}

/** The size the location's server gives in a HEAD (after the SSRF checks); a 400 when it cannot be reached. */
async function probeSize(services: Pick<Services, 'webDownload'>, url: string): Promise<number | null> {
  const res = await guardedFetch(url, { allowedHosts: services.webDownload.allowedHosts, signal: AbortSignal.timeout(30_000), method: 'HEAD', purpose: 'location' });
  res.resume();
  const n = Number(res.headers['content-length']);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

const isHex = (s: unknown, bytes: number) => typeof s === 'string' && s.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(s);

/** Glance's `_validate_validation_data`: the values to set, or a 409. */
function validationValues(s: LocationState, data: Record<string, unknown> | undefined): Partial<Pick<LocationState, 'checksum' | 'os_hash_algo' | 'os_hash_value'>> {
  if (!data) return {};
  for (const k of Object.keys(data)) if (!['checksum', 'os_hash_algo', 'os_hash_value'].includes(k)) throw badRequest(`Invalid validation_data: unknown key ${k}`);
  if (data.os_hash_algo === undefined || data.os_hash_value === undefined) throw badRequest('Invalid validation_data: os_hash_algo and os_hash_value are required');
  const fresh: Record<string, string> = {};
  for (const k of ['checksum', 'os_hash_algo', 'os_hash_value'] as const) {
    const v = data[k];
    if (v === undefined || v === s[k]) continue;
    if (s[k]) throw conflict(`${k} is already set with a different value`);
    fresh[k] = String(v);
  }
  if (!Object.keys(fresh).length) return {};
  if (s.status !== 'queued') throw conflict(`New value(s) for ${Object.keys(fresh).join(', ')} may only be provided when image status is 'queued'`);
  if (fresh.checksum !== undefined && !isHex(fresh.checksum, 16)) throw conflict(`checksum (${fresh.checksum}) is not a 16-byte hexadecimal md5`);
  if (fresh.os_hash_algo !== HASH_ALGO) throw conflict(`os_hash_algo must be ${HASH_ALGO}, not ${fresh.os_hash_algo}`);
  if (!isHex(fresh.os_hash_value, crypto.createHash(HASH_ALGO).digest().length)) throw conflict(`os_hash_value (${fresh.os_hash_value}) is not a valid ${HASH_ALGO} digest`);
  return fresh;
}

/** One PATCH operation on `/locations…` applied to `s` (in place); `path` is the key without the leading slash. */
export async function applyLocationOp(services: Pick<Services, 'webDownload'>, s: LocationState, op: string, path: string, value: unknown): Promise<void> {
  const shown = locationsOf(s);
  const at = path === 'locations' ? undefined : path.slice('locations/'.length);
  if (op === 'add') {
    if (at === undefined || (at !== '-' && !/^\d+$/.test(at))) throw badRequest(`Invalid JSON pointer for this resource: '/${path}'`);
    if (s.status !== 'queued' && s.status !== 'active') throw conflict(`It's not allowed to add locations if image status is ${s.status}.`);
    const { loc, validation } = checkLocation(value);
    if (shown.some((l) => l.url === loc.url)) throw badRequest(`Duplicate location: ${loc.url}`);
    const index = at === '-' ? shown.length : Number(at);
    if (index > shown.length || (s.stored && index === 0)) throw badRequest(`Invalid location index ${at}`);
    const values = validationValues(s, validation);
    const size = await probeSize(services, loc.url);
    s.external.splice(index - (s.stored ? 1 : 0), 0, loc);
    Object.assign(s, values);
    if (s.status === 'queued') {
      s.status = 'active';
      s.size = size;
    }
    return;
  }
  if (op === 'remove') {
    if (at === undefined || !/^\d+$/.test(at) || Number(at) >= shown.length) throw badRequest(`Invalid JSON pointer for this resource: '/${path}'`);
    if (s.status !== 'active') throw conflict(`It's not allowed to remove locations if image status is ${s.status}.`);
    if (shown.length === 1) throw apiError('OpenStack.Forbidden', 'Cannot remove last location in the image.');
    const index = Number(at);
    if (s.stored && index === 0) throw apiError('OpenStack.Forbidden', 'The chunk store\'s copy of the image cannot be removed as a location; delete the image instead.');
    s.external.splice(index - (s.stored ? 1 : 0), 1);
    return;
  }
  // replace: only the metadata of the http(s) locations may change; the list of URLs stays as it is.
  if (at !== undefined) throw badRequest(`Invalid JSON pointer for this resource: '/${path}'`);
  if (s.status !== 'queued' && s.status !== 'active') throw conflict(`It's not allowed to replace locations if image status is ${s.status}.`);
  if (!Array.isArray(value)) throw badRequest('Invalid locations: must be a list');
  const next = value.map((v) => checkLocation(v).loc);
  if (next.length !== shown.length || next.some((l, i) => l.url !== shown[i].url)) throw badRequest('Cannot replace the locations with a different list of URLs; add or remove them one by one.');
  if (s.stored && JSON.stringify(next[0].metadata) !== JSON.stringify(shown[0].metadata)) throw badRequest('The metadata of the chunk store\'s location cannot be changed.');
  s.external = next.slice(s.stored ? 1 : 0);
}

/** The bytes at the first of `locations` that answers, through the SSRF checks. */
export async function readLocation(services: Pick<Services, 'webDownload'>, locations: ImageLocation[]): Promise<{ size: number | null; stream: Readable }> {
  let last: unknown;
  for (const loc of locations) {
    try {
      const res = await guardedFetch(loc.url, { allowedHosts: services.webDownload.allowedHosts, purpose: 'location' });
      const n = Number(res.headers['content-length']);
      return { size: Number.isSafeInteger(n) && n >= 0 ? n : null, stream: res };
    } catch (e) {
      last = e;
    }
  }
  throw last ?? apiError('OpenStack.NotFound', 'The image has no data');
}
