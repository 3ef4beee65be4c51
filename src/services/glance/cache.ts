/**
 * Glance's image cache (API 2.14+, admin-only; the folder itself is cache-store.ts): each node keeps whole copies of image data in a folder of its data
 * directory, so `GET /file` reads one flat file instead of reassembling chunks from the chunk store (or fetching an
 * http location). `PUT /v2/cache/{id}` queues an active image (a marker file, so the queue survives a restart); the
 * node fills queued images in the background (into the temp folder, then renamed in), one at a time per image. Hits
 * and last access are counted since the process started. Entries of images that no longer exist are dropped when
 * the cache is listed; a deleted image is never served, because the image is looked up first.
 */
import fs from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { getImage, glanceRowsOf } from './images.ts';
import { imageBytes, tempFile } from './data.ts';

export const CLEAR_TARGETS = ['', 'cache', 'queue'] as const;

const ids = async (dir: string) => (await fs.readdir(dir, { withFileTypes: true }).catch(() => [])).filter((d) => d.isFile()).map((d) => d.name);

function requireAdmin(viewer: Identity): void {
  if (!viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'You are not authorized to complete cache_manage action.');
}

type CacheServices = Pick<Services, 'db' | 'regions' | 'dirs' | 'dataPlane' | 'webDownload' | 'imageCache' | 'glanceLookups'>;

/** PUT /v2/cache/{id} (202): only an active image; filling starts at once in the background. */
export async function queueForCache(services: CacheServices, viewer: Identity, id: string, onError: (e: unknown) => void): Promise<void> {
  requireAdmin(viewer);
  const img = await getImage(services, viewer, id);
  if (img.status !== 'active') throw apiError('OpenStack.BadRequest', `Image ${id} is ${img.status}; only active images can be cached.`);
  const { imageCache: cache } = services;
  await fs.mkdir(path.dirname(cache.marker(id)), { recursive: true });
  if (!(await exists(cache.entry(id)))) await fs.writeFile(cache.marker(id), '');
  fillQueued(services, onError);
}

const exists = (file: string) => fs.stat(file).then(() => true, () => false);

/** Starts filling every queued image not being filled already; errors drop the entry from the queue. */
export function fillQueued(services: CacheServices, onError: (e: unknown) => void): void {
  void (async () => {
    for (const id of await ids(path.join(services.imageCache.dir, 'queue'))) {
      if (services.imageCache.filling.has(id)) continue;
      services.imageCache.filling.add(id);
      fill(services, id).catch(onError).finally(() => services.imageCache.filling.delete(id));
    }
  })().catch(onError);
}

async function fill(services: CacheServices, id: string): Promise<void> {
  const cache = services.imageCache;
  try {
    const [img] = await glanceRowsOf(services.db, [id]);
    if (!img || img.status !== 'active') return;
    const bytes = await imageBytes(services, img);
    if (!bytes) return;
    const tmp = await tempFile(services, 'glance-cache');
    try {
      await pipeline(bytes.stream, createWriteStream(tmp, { flags: 'wx' }));
      await fs.rename(tmp, cache.entry(id));
    } finally {
      await fs.rm(tmp, { force: true });
    }
  } finally {
    await fs.rm(cache.marker(id), { force: true });
  }
}

export interface CacheListing {
  cached_images: { image_id: string; hits: number; last_accessed: number; last_modified: number; size: number }[];
  queued_images: string[];
}

/** GET /v2/cache: the node's entries and queue (entries of deleted images are dropped here). */
export async function listCache(services: CacheServices, viewer: Identity, onError: (e: unknown) => void): Promise<CacheListing> {
  requireAdmin(viewer);
  const cache = services.imageCache;
  const cached = await ids(cache.dir);
  const queued = await ids(path.join(cache.dir, 'queue'));
  const live = new Set((await glanceRowsOf(services.db, [...new Set([...cached, ...queued])])).map((i) => i.id));
  for (const id of [...cached, ...queued]) if (!live.has(id)) await evict(services, id, '');
  fillQueued(services, onError);
  const out: CacheListing = { cached_images: [], queued_images: queued.filter((id) => live.has(id)) };
  for (const id of cached.filter((i) => live.has(i))) {
    const st = await fs.stat(cache.entry(id)).catch(() => undefined);
    if (!st) continue;
    const h = cache.hits.get(id);
    out.cached_images.push({ image_id: id, hits: h?.hits ?? 0, last_accessed: (h?.lastAccessed ?? st.mtimeMs) / 1000, last_modified: st.mtimeMs / 1000, size: st.size });
  }
  return out;
}

async function evict(services: CacheServices, id: string, target: (typeof CLEAR_TARGETS)[number]): Promise<void> {
  if (target !== 'queue') {
    await fs.rm(services.imageCache.entry(id), { force: true });
    services.imageCache.hits.delete(id);
  }
  if (target !== 'cache') await fs.rm(services.imageCache.marker(id), { force: true });
}

/** DELETE /v2/cache/{id}: out of the cache and the queue (204; 404 for an unknown image). */
export async function uncache(services: CacheServices, viewer: Identity, id: string): Promise<void> {
  requireAdmin(viewer);
  await getImage(services, viewer, id);
  await evict(services, id, '');
}

/** DELETE /v2/cache with `x-image-cache-clear-target`: `cache`, `queue`, or both when absent or empty. */
export async function clearCache(services: CacheServices, viewer: Identity, target: string): Promise<void> {
  requireAdmin(viewer);
  if (!(CLEAR_TARGETS as readonly string[]).includes(target)) throw apiError('OpenStack.BadRequest', `Invalid x-image-cache-clear-target ${target}; it is cache or queue`);
  const cache = services.imageCache;
  const all = new Set([...(await ids(cache.dir)), ...(await ids(path.join(cache.dir, 'queue')))]);
  for (const id of all) await evict(services, id, target as (typeof CLEAR_TARGETS)[number]);
}
