/**
 * glance-download: fills a queued image from an image of a Glance that the Keystone catalog lists, named by
 * region and interface; the catalog's image endpoints are this service's own (region.ts), so the source is an
 * image of that region, read as the user who asked sees it (the bytes its `GET /file` serves, http locations
 * included). The bytes are spooled and ingested like an upload, inspected against the source's disk_format; the
 * destination takes the source's formats and the properties Glance's default
 * `[glance_download_properties] extra_properties` names, in the same transaction that makes it active.
 */
import fs from 'node:fs/promises';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { getImage } from './images.ts';
import { ingestFile, readImageFile, spool, tempFile, type IngestTarget } from './data.ts';
import { hasImageEndpoint } from './region.ts';

export interface GlanceSource {
  imageId: string;
  region: string;
  interface: string;
  viewer: Identity;
}

/** Glance's default `extra_properties`: the source properties the destination takes (`*` is a prefix). */
const EXTRA_PROPERTIES = ['hw_*', 'trait:*', 'os_distro', 'os_secure_boot', 'os_type'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** domain/ids.ts's image ids (`m-` and 20 base36 characters); Glance clients may also have given a UUID. */
const IMAGE_ID = /^m-[0-9a-z]{20}$/;

const badRequest = (msg: string) => apiError('OpenStack.BadRequest', msg);

/** The request's `method` parameters, checked when the import is asked for (400), not when it runs. */
export function glanceSource(method: Record<string, unknown>, viewer: Identity): GlanceSource {
  const imageId = method.glance_image_id;
  if (typeof imageId !== 'string' || !(UUID.test(imageId) || IMAGE_ID.test(imageId))) {
    throw badRequest(`glance-download: the image id does not look like a UUID (nor like an image id of this service): ${String(imageId)}`);
  }
  const region = method.glance_region;
  if (typeof region !== 'string' || region === '') throw badRequest('glance-download: glance_region must be given');
  const iface = method.glance_service_interface ?? 'public';
  if (typeof iface !== 'string') throw badRequest('glance-download: glance_service_interface must be a string');
  return { imageId, region, interface: iface, viewer: { id: viewer.id, name: viewer.name, kind: viewer.kind, isAdmin: viewer.isAdmin } };
}

/** The parameters as the task's `input` shows them. */
export const sourceParams = (s: GlanceSource) => ({ glance_image_id: s.imageId, glance_region: s.region, glance_service_interface: s.interface });

const copied = (key: string) => EXTRA_PROPERTIES.some((p) => (p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : key === p));

/** The job's work; any error fails the task and puts the destination back to queued (import.ts). */
export async function glanceDownload(services: Services, target: IngestTarget, source: GlanceSource, signal: AbortSignal): Promise<void> {
  if (!hasImageEndpoint(services, source.region, source.interface)) {
    throw badRequest(`glance-download: the catalog lists no image endpoint in region '${source.region}' with interface '${source.interface}'`);
  }
  const src = await getImage(services, source.viewer, source.imageId, source.region);
  if (src.status !== 'active') throw apiError('OpenStack.Conflict', `glance-download: image ${src.id} is ${src.status}, not active`);
  const out = await readImageFile(services, source.viewer, src.id, source.region);
  if (!out) throw apiError('OpenStack.Conflict', `glance-download: image ${src.id} has no data`);
  signal.throwIfAborted();
  const file = await tempFile(services, 'glance-download');
  try {
    const digests = await spool(services, out.stream, file);
    const properties = Object.fromEntries(Object.entries(src.properties).filter(([k]) => copied(k)));
    await ingestFile(services, { ...target, disk_format: src.disk_format }, file, digests, {
      disk_format: src.disk_format ?? '', container_format: src.container_format ?? '', properties,
    });
  } finally {
    await fs.rm(file, { force: true });
  }
}
