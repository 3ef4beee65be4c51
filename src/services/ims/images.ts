/**
 * IMS's image writes over the ECS use cases. Each returns the durable job that finishes it (IMS's `job_id`);
 * images made here are IMS-family (Huawei's share limit and encryption rules, domain/image-kinds.ts).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import type { ImageKind } from '../../domain/image-kinds.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { openstackRegion } from '../glance/region.ts';
import { createImageFromInstance } from '../images/from-instance.ts';
import { createImageFromSnapshots } from '../images/create-image.ts';
import { copyImage } from '../images/copy.ts';
import { snapshotDisk } from '../snapshots/create.ts';
import { dropSnapshotsIn } from '../images/manifest-holds.ts';
import { PLATFORMS, startImport } from '../transfer/import.ts';
import { startExport } from '../transfer/export.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { attachSubJobs } from './jobs.ts';

export const IMS_FAMILY = 'ims';
/** Cross-region copies one account may have in flight (Huawei's limit). */
export const MAX_CROSS_REGION_COPIES = 5;

const bad = (msg: string) => apiError('OpenStack.BadRequest', msg);

export interface Started {
  imageId: string;
  jobId: string;
}

function str(body: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw bad(`${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw bad(`${key} must be a non-empty string`);
  return v;
}

function int(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(`${key} must be a positive integer`);
  return v;
}

/** `bucket:object`, as IMS names a file in OBS. */
export function parseBucketUrl(value: string, key: string): { bucket: string; object: string } {
  const at = value.indexOf(':');
  if (at <= 0 || at === value.length - 1) throw bad(`${key} must be "bucket:object"`);
  return { bucket: value.slice(0, at), object: value.slice(at + 1) };
}

/** The import platform an IMS `os_version` ("Ubuntu 22.04 server 64bit", "Windows Server 2019 …") names. */
export function platformOfOsVersion(osVersion: string | undefined): string | undefined {
  if (osVersion === undefined) return undefined;
  const byLength = [...PLATFORMS].sort((a, b) => b.length - a.length);
  return byLength.find((p) => osVersion.toLowerCase().startsWith(p.toLowerCase())) ?? (/windows/i.test(osVersion) ? 'Other Windows' : 'Others Linux');
}

async function jobOfImage(services: Pick<Services, 'db'>, imageId: string): Promise<string> {
  const row = await services.db.selectFrom('jobs').select('id').where('resource_id', '=', imageId).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
  return row.id;
}

async function started(services: Pick<Services, 'db'>, imageId: string): Promise<Started> {
  return { imageId, jobId: await jobOfImage(services, imageId) };
}

async function ownDisk(services: Services, viewer: Identity, volumeId: string) {
  const disk = await services.db.selectFrom('disks').selectAll().where('id', '=', volumeId).where('owner_id', '=', viewer.id)
    .where('region', '=', openstackRegion(services)).executeTakeFirst();
  if (!disk) throw apiError('OpenStack.NotFound', `Volume ${volumeId} could not be found.`);
  return disk;
}

/** A data disk image from one disk: the disk is snapshotted now, the image points at the snapshot. */
export async function dataImageFromVolume(services: Services, viewer: Identity, input: { volumeId: string; name?: string; description?: string }): Promise<Started> {
  const disk = await ownDisk(services, viewer, input.volumeId);
  if (disk.type !== 'data') throw bad(`Volume ${disk.id} is a system disk; a data disk image is made from a data disk.`);
  const snapshotId = await snapshotDisk(services, disk, { description: `Created for a data disk image from ${disk.id}` });
  try {
    const { imageId } = await createImageFromSnapshots(services, {
      region: disk.region, owner: viewer.id, name: input.name, description: input.description, tags: [], kind: 'data', shareFamily: IMS_FAMILY,
      disks: [{ snapshotId, diskType: 'data' }], source: { kind: 'snapshot', id: snapshotId },
    });
    return started(services, imageId);
  } catch (e) {
    await services.db.transaction().execute((trx) => dropSnapshotsIn(trx, [snapshotId], services.clock.now()));
    throw e;
  }
}

/** A system disk image (`systemDiskOnly`) or a full-ECS image (every disk) of an own instance. */
export async function imageFromInstance(services: Services, viewer: Identity, input: { instanceId: string; name?: string; description?: string; kind: 'system' | 'whole' }): Promise<Started> {
  const { imageId } = await createImageFromInstance(services, {
    region: openstackRegion(services), owner: viewer.id, name: input.name, description: input.description, tags: [], kind: input.kind, shareFamily: IMS_FAMILY,
  }, input.instanceId, { systemDiskOnly: input.kind === 'system' });
  return started(services, imageId);
}

/** An image from a file in a bucket (`image_url`), imported by the ImportImage job. */
export async function imageFromFile(services: Services, viewer: Identity, input: { imageUrl: string; name?: string; description?: string; osVersion?: string; minDisk?: number; kind: ImageKind; format?: string }): Promise<Started> {
  const { bucket, object } = parseBucketUrl(input.imageUrl, 'image_url');
  const { ImageId } = await startImport(services, {
    region: openstackRegion(services), owner: viewer.id, name: input.name, description: input.description, platform: platformOfOsVersion(input.osVersion),
    kind: input.kind, shareFamily: IMS_FAMILY, disks: [{ bucket, object, format: input.format, diskImageSize: input.minDisk }],
  });
  return started(services, ImageId);
}

/** POST /v2/cloudimages/action: from an instance (plus `data_images`), from a file, or from a data disk. */
export async function createCloudImage(services: Services, viewer: Identity, body: Record<string, unknown>): Promise<Started> {
  const name = str(body, 'name', true);
  const description = str(body, 'description');
  const instanceId = str(body, 'instance_id');
  const imageUrl = str(body, 'image_url');
  const volumeId = str(body, 'volume_id');
  if ([instanceId, imageUrl, volumeId].filter((x) => x !== undefined).length !== 1) throw bad('Exactly one of instance_id, image_url and volume_id is required.');
  if (volumeId) return dataImageFromVolume(services, viewer, { volumeId, name, description });
  if (imageUrl) return imageFromFile(services, viewer, { imageUrl, name, description, osVersion: str(body, 'os_version'), minDisk: int(body, 'min_disk'), kind: 'system' });
  const dataImages = body.data_images ?? [];
  if (!Array.isArray(dataImages)) throw bad('data_images must be a list');
  const planned = dataImages.map((d: unknown, i) => {
    if (!d || typeof d !== 'object') throw bad(`data_images[${i}] must be an object`);
    const o = d as Record<string, unknown>;
    return { name: str(o, 'name', true), volumeId: str(o, 'volume_id', true)!, description: str(o, 'description') };
  });
  for (const d of planned) {
    const disk = await ownDisk(services, viewer, d.volumeId);
    if (disk.instance_id !== instanceId) throw bad(`Volume ${d.volumeId} is not attached to instance ${instanceId}.`);
  }
  const system = await imageFromInstance(services, viewer, { instanceId: instanceId!, name, description, kind: 'system' });
  const subJobs: string[] = [];
  for (const d of planned) subJobs.push((await dataImageFromVolume(services, viewer, d)).jobId);
  // The system disk image's job reports the data disk images as its sub jobs, as Huawei's does.
  await attachSubJobs(services, system.jobId, subJobs);
  return system;
}

/** POST /v1/cloudimages/{id}/copy (same region) and …/cross_region_copy (`region`). */
export async function copyCloudImage(services: Services, viewer: Identity, imageId: string, body: Record<string, unknown>, crossRegion: boolean): Promise<Started> {
  const source = openstackRegion(services);
  const destination = crossRegion ? str(body, 'region', true)! : source;
  if (crossRegion && destination === source) throw bad('region must be another region; use …/copy within the region.');
  // Counted inside the copy's transaction, after its account lock, so concurrent calls on any nodes cannot both pass.
  const checkLimit = async (trx: Kysely<Database>) => {
    const { n } = await trx.selectFrom('jobs').innerJoin('images', 'images.id', 'jobs.resource_id')
      .select((eb) => eb.fn.countAll<number>().as('n')).where('jobs.account_id', '=', viewer.id).where('jobs.kind', '=', JOB_KIND.copyImage)
      .where('jobs.state', 'in', ['queued', 'running']).where('images.region', '!=', source).executeTakeFirstOrThrow();
    if (Number(n) >= MAX_CROSS_REGION_COPIES) throw apiError('OpenStack.Conflict', `At most ${MAX_CROSS_REGION_COPIES} cross-region copies may run at a time.`);
  };
  const cmk = str(body, 'cmk_id');
  const { imageId: copyId } = await copyImage(services, {
    sourceRegion: source, destinationRegion: destination, imageId, caller: viewer.id, name: str(body, 'name', !crossRegion), description: str(body, 'description'),
    encrypted: cmk !== undefined, kmsKeyId: cmk, tags: [], checkLimit: crossRegion ? checkLimit : undefined,
  });
  await services.db.updateTable('images').set({ share_family: IMS_FAMILY }).where('id', '=', copyId).execute();
  return started(services, copyId);
}

/** POST /v1/cloudimages/{id}/file: export to `bucket_url` in `file_format`. */
export async function exportCloudImage(services: Services, viewer: Identity, imageId: string, body: Record<string, unknown>): Promise<Started> {
  const { bucket, object } = parseBucketUrl(str(body, 'bucket_url', true)!, 'bucket_url');
  const format = str(body, 'file_format', true)!;
  if (!['qcow2', 'vhd', 'vmdk', 'raw'].includes(format)) throw bad(`file_format must be qcow2, vhd, vmdk or raw (zvhd and zvhd2 are not supported here)`);
  const { TaskId } = await startExport(services, { region: openstackRegion(services), owner: viewer.id, imageId, bucket, objectKey: object, format });
  return { imageId, jobId: TaskId };
}
