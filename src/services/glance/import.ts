/**
 * Image data goes in through one durable job handler, under three kinds: `PUT /file` (GlanceUpload) queues its job
 * and hands it the body, which the job stores in the chunk store as it arrives (hashing it), so ingesting runs on the
 * worker within its limits, and a crash leaves the image queued, not saving. Glance's interoperable import:
 * `PUT /stage` keeps the bytes in the uploads folder (image → uploading), and `POST /import` (202) queues a
 * GlanceImport job that ingests them (glance-direct), first downloads the URI (web-download, validated when the job
 * runs, as Glance's tasks do) or reads another catalog image (glance-download). POST /v2/tasks queues GlanceTask jobs (tasks.ts). Glance tasks are these jobs.
 * IMS's UploadImage streams a file from a bucket into the chunk store as PUT /file does, in a GlanceImport job.
 * A failed import puts the image back to queued and names the failure in `os_glance_failed_import`.
 * Staged bytes are files on the node that received them, and a PUT /file body is a connection to it: their jobs are
 * pinned to it (jobs/queue.ts), and fail with JobNodeStopped if it stops first.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Transaction } from 'kysely';
import type { Database, JobRow } from '../../store/schema.ts';
import { apiError, ApiError, ERRORS, type ErrorCode } from '../../domain/errors.ts';
import { MAX_DISK_GIB } from '../../domain/image-rules.ts';
import { ecsStatusOf } from '../../domain/glance-status.ts';
import { parseJson, type JobContext } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { JOB_KIND } from '../job-kinds.ts';
import type { Identity } from '../identity/tokens.ts';
import { getImage, type GlanceImage } from './images.ts';
import { declaredFormat, digestsOf, ingestFile, ingestStream, moveStatus, spool, tempFile, type Digests } from './data.ts';
import { webDownloadBody } from './web-download.ts';
import { requireImportObject, requireTransferBucket } from '../buckets/repo.ts';
import { glanceDownload, glanceSource, type GlanceSource } from './glance-download.ts';

export const IMPORT_METHODS = ['glance-direct', 'web-download', 'glance-download'] as const;
/** The one store images go to; `/v2/info/stores` lists it. */
export const STORE_ID = 'chunks';

export interface ImportPayload {
  /** `upload` is PUT /file; `bucket` is IMS's UploadImage (a file in a bucket); the others are import methods. */
  method: (typeof IMPORT_METHODS)[number] | 'upload' | 'bucket';
  uri?: string;
  bucket?: string;
  object?: string;
  stagePath?: string;
  digests?: Digests;
  /** PUT /file: the key of its body in `services.uploadBodies` on the job's node. */
  receiver?: string;
  /** glance-download: the image to copy, the catalog endpoint named for it, and who asked (whose view of it counts). */
  source?: GlanceSource;
  /** A task made through POST /v2/tasks: its input as given. */
  taskInput?: Record<string, unknown>;
}

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/**
 * PUT /v2/images/{id}/file: queued → saving. The job is queued first, pinned to this node, and stores the body
 * as it arrives (ingestStream) while this request waits for it: a crash at any point, even mid-body, fails the
 * job and so puts the image back to queued. One of the caller's limited concurrent heavy requests meanwhile, so
 * the uploads waiting for the account's job slots are bounded too.
 */
export async function uploadFile(services: Services, viewer: Identity, id: string, body: Readable): Promise<void> {
  const img = await requireOwner(services, viewer, id);
  if (img.status !== 'queued') throw apiError('OpenStack.Conflict', `Image status transition from ${img.status} to saving is not allowed`);
  declaredFormat(img);
  return services.work.run(viewer.id, () => receive(services, img, body));
}

async function receive(services: Services, img: GlanceImage, body: Readable): Promise<void> {
  const { id } = img;
  if (!(await moveStatus(services, id, ['queued'], 'saving'))) throw apiError('OpenStack.Conflict', 'Image is already being uploaded.');
  const receiver = crypto.randomUUID();
  services.uploadBodies.set(receiver, body);
  let done: JobRow;
  try {
    let job: JobRow;
    try {
      const payload: ImportPayload = { method: 'upload', receiver };
      // The body arrives at this node: only it can run the job.
      job = await services.jobs.enqueue(services.db, { kind: JOB_KIND.glanceUpload, region: img.region, accountId: img.owner, resourceId: id, payload, maxAttempts: 1, node: services.jobs.node });
    } catch (e) {
      await moveStatus(services, id, ['saving'], 'queued');
      throw e;
    }
    services.wakeWorker();
    for (;;) {
      done = await services.db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      if (TERMINAL.includes(done.state)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    services.uploadBodies.delete(receiver);
  }
  if (done.state !== 'succeeded') {
    const code = done.error_code in ERRORS ? (done.error_code as ErrorCode) : 'InternalError';
    throw new ApiError(code, done.error_message || undefined);
  }
}

const stagePathOf = (services: Pick<Services, 'dirs'>, id: string) => path.join(services.dirs.uploads, `glance-stage-${id}`);

async function requireOwner(services: Services, viewer: Identity, id: string) {
  const img = await getImage(services, viewer, id);
  if (img.owner !== viewer.id && !viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'You are not permitted to modify this image.');
  return img;
}

/**
 * PUT /v2/images/{id}/stage: queued → uploading, the bytes kept for a later glance-direct import; one of the
 * caller's limited concurrent heavy requests while the body is spooled.
 */
export async function stageFile(services: Services, viewer: Identity, id: string, body: Readable): Promise<void> {
  const img = await requireOwner(services, viewer, id);
  if (img.status !== 'queued') throw apiError('OpenStack.Conflict', `Image status transition from ${img.status} to uploading is not allowed`);
  return services.work.run(viewer.id, () => stage(services, id, body));
}

async function stage(services: Services, id: string, body: Readable): Promise<void> {
  if (!(await moveStatus(services, id, ['queued'], 'uploading'))) throw apiError('OpenStack.Conflict', 'Image is already being uploaded.');
  const file = stagePathOf(services, id);
  try {
    await fs.mkdir(services.dirs.uploads, { recursive: true });
    await fs.rm(file, { force: true });
    const { size, md5, sha512 } = await spool(services, body, file);
    await services.db.updateTable('glance_images')
      .set({ stage_path: file, stage_node: services.jobs.node, size, stage_md5: md5, stage_sha512: sha512 })
      .where('image_id', '=', id).execute();
  } catch (e) {
    await fs.rm(file, { force: true });
    await moveStatus(services, id, ['uploading'], 'queued');
    throw e;
  }
}

/** POST /v2/images/{id}/import: checks the method and the image's state, then queues the import (202). */
export async function startImport(services: Services, viewer: Identity, id: string, body: unknown): Promise<void> {
  const img = await requireOwner(services, viewer, id);
  const req = (body ?? {}) as { method?: { name?: unknown; uri?: unknown } & Record<string, unknown>; stores?: unknown; all_stores?: unknown };
  const method = req.method?.name;
  if (typeof method !== 'string' || !(IMPORT_METHODS as readonly string[]).includes(method)) {
    throw apiError('OpenStack.BadRequest', `Import method ${String(method)} is not valid; available: ${IMPORT_METHODS.join(', ')}`);
  }
  if (req.stores !== undefined && (!Array.isArray(req.stores) || req.stores.some((s) => s !== STORE_ID))) throw apiError('OpenStack.Conflict', `Unknown store in ${JSON.stringify(req.stores)}`);
  // glance-download replaces the formats with the source's.
  if (method !== 'glance-download') declaredFormat(img);
  const payload: ImportPayload = { method: method as ImportPayload['method'] };
  if (method === 'web-download') {
    if (typeof req.method?.uri !== 'string' || req.method.uri === '') throw apiError('OpenStack.BadRequest', 'URI for web-download must be given');
    if (img.status !== 'queued') throw apiError('OpenStack.Conflict', `Image status ${img.status} is not valid for web-download; it must be queued`);
    payload.uri = req.method.uri;
  } else if (method === 'glance-download') {
    payload.source = glanceSource(req.method!, viewer);
    if (img.status !== 'queued') throw apiError('OpenStack.Conflict', `Image status ${img.status} is not valid for glance-download; it must be queued`);
  } else if (img.status !== 'uploading') {
    throw apiError('OpenStack.Conflict', 'Image needs to be staged before an import can be performed.');
  }
  await queueImport(services, img, payload, JOB_KIND.glanceImport);
}

/**
 * IMS's UploadImage (`PUT /v1/cloudimages/{id}/upload`): a file in one of the caller's buckets, in the image's
 * region, imported into the caller's queued image (its disk_format set) by the same job; returns the job.
 */
export async function importFromBucket(services: Services, viewer: Identity, id: string, bucket: string, object: string): Promise<string> {
  const img = await requireOwner(services, viewer, id);
  declaredFormat(img);
  if (img.status !== 'queued') throw apiError('OpenStack.Conflict', `Image status ${img.status} is not valid for an upload; it must be queued`);
  await requireTransferBucket(services, bucket, img.owner, img.region);
  await requireImportObject(services, bucket, object);
  return (await queueImport(services, img, { method: 'bucket', bucket, object }, JOB_KIND.glanceImport)).id;
}

/**
 * Moves the image (queued, or uploading for glance-direct) to importing and queues the job that fills it, in one
 * transaction; `kind` says whose task it is (`GlanceImport`: POST /import; `GlanceTask`: POST /v2/tasks).
 */
export async function queueImport(services: Services, img: { id: string; region: string; owner: string }, payload: ImportPayload, kind: string): Promise<JobRow> {
  const { id } = img;
  const from = payload.method === 'glance-direct' ? 'uploading' : 'queued';
  const job = await services.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('glance_images')
      .select(['phase', 'stage_path', 'stage_node', 'size', 'stage_md5', 'stage_sha512', 'properties']).where('image_id', '=', id).executeTakeFirstOrThrow();
    if (row.phase !== ecsStatusOf(from).phase) throw apiError('OpenStack.Conflict', `Image ${id} is not ${from}.`);
    // The staged bytes are a file on the node that took PUT /stage, whichever node takes this request: the job is
    // pinned to that node (as Glance proxies the import to os_glance_stage_host).
    const node = payload.method === 'glance-direct' ? row.stage_node : undefined;
    if (payload.method === 'glance-direct') {
      payload.stagePath = row.stage_path;
      if (row.stage_md5) payload.digests = { size: row.size ?? 0, md5: row.stage_md5, sha512: row.stage_sha512 };
    }
    const props = JSON.parse(row.properties) as Record<string, string>;
    delete props.os_glance_failed_import;
    props.os_glance_importing_to_stores = STORE_ID;
    await trx.updateTable('glance_images').set({ phase: ecsStatusOf('importing').phase, properties: JSON.stringify(props) }).where('image_id', '=', id).execute();
    await trx.updateTable('images').set({ status: ecsStatusOf('importing').ecs, updated_at: services.clock.now() }).where('id', '=', id).execute();
    return services.jobs.enqueue(trx, { kind, region: img.region, accountId: img.owner, resourceId: id, payload, maxAttempts: 1, node });
  });
  services.wakeWorker();
  return job;
}

export function glanceImportJobKind(services: Services): JobKind {
  return {
    handler: (job, ctx) => runImport(services, job, ctx),
    onFinished: (trx, job) => finishImport(services, trx, job),
  };
}

async function runImport(services: Services, job: JobRow, ctx: JobContext): Promise<void> {
  const p = ctx.payload as unknown as ImportPayload;
  const row = await services.db.selectFrom('images as i').innerJoin('glance_images as g', 'g.image_id', 'i.id')
    .select(['i.id', 'i.owner_id', 'i.region', 'g.disk_format']).where('i.id', '=', job.resource_id).executeTakeFirst();
  if (!row) throw apiError('OpenStack.NotFound', `Image ${job.resource_id} was deleted`);
  const target = { id: row.id, owner: row.owner_id, region: row.region, disk_format: row.disk_format || null };
  if (p.method === 'upload' && p.receiver) {
    const body = services.uploadBodies.get(p.receiver);
    if (!body) throw apiError('OpenStack.Conflict', 'The upload was cut off: the node receiving it restarted.');
    await ingestStream(services, target, body, ctx.signal);
    return;
  }
  if (p.method === 'glance-direct' || p.method === 'upload') {
    if (!p.stagePath) throw apiError('OpenStack.Conflict', 'Nothing was staged');
    await ingestFile(services, target, p.stagePath, p.digests ?? (await digestsOf(p.stagePath)));
    await fs.rm(p.stagePath, { force: true });
    return;
  }
  if (p.method === 'glance-download') {
    await glanceDownload(services, target, p.source!, ctx.signal);
    return;
  }
  if (p.method === 'bucket') {
    const { body } = await services.objects.get(p.bucket!, p.object!);
    await ingestStream(services, target, body, ctx.signal);
    return;
  }
  const file = await tempFile(services, 'glance-web');
  try {
    const body = await webDownloadBody(p.uri!, { allowedHosts: services.webDownload.allowedHosts, maxBytes: MAX_DISK_GIB * 1024 ** 3, signal: ctx.signal });
    await ingestFile(services, target, file, await spool(services, body, file));
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** In the job's final transaction: clears the import lock; a failure puts the image back to queued. */
async function finishImport(services: Services, trx: Transaction<Database>, job: JobRow): Promise<void> {
  const row = await trx.selectFrom('glance_images').select(['properties', 'stage_path']).where('image_id', '=', job.resource_id).executeTakeFirst();
  if (!row) return;
  const props = JSON.parse(row.properties) as Record<string, string>;
  const p = parseJson(job.payload) as Partial<ImportPayload>;
  delete props.os_glance_importing_to_stores;
  if (job.state !== 'succeeded') {
    // A failed upload leaves the image as it was (queued); a failed import says so.
    if (p.method !== 'upload') props.os_glance_failed_import = STORE_ID;
    const queued = ecsStatusOf('queued');
    await trx.updateTable('images').set({ status: queued.ecs, updated_at: services.clock.now() }).where('id', '=', job.resource_id).execute();
    await trx.updateTable('glance_images').set({ phase: queued.phase, stage_path: '', stage_node: '', stage_md5: '', stage_sha512: '', size: null }).where('image_id', '=', job.resource_id).execute();
    // Only the node holding the file removes it (another node may finish the job: its holder stopped).
    if (p.stagePath && (job.node === '' || job.node === services.jobs.node)) await fs.rm(p.stagePath, { force: true });
  }
  await trx.updateTable('glance_images').set({ properties: JSON.stringify(props) }).where('image_id', '=', job.resource_id).execute();
}
