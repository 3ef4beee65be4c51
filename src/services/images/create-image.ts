/**
 * CreateImage from snapshots (a system snapshot, or DiskDeviceMapping.N with up to 16 data disks). The image
 * points at the snapshots themselves: no bytes are copied. A CreateImage job proves the chunks are live,
 * then the image turns Available.
 */
import type { Kysely } from 'kysely';
import type { Database, ImageRow, SnapshotRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { checkDescription, checkImageFamily, checkImageName, type Tag } from '../../domain/image-rules.ts';
import type { ImageKind } from '../../domain/image-kinds.ts';
import { newResourceId } from '../../domain/ids.ts';
import type { Services } from '../context.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { assertImageQuota, insertImage, osNames, type NewImageDisk } from './rows.ts';
import { assertNameFree } from './modify.ts';
import { gibOf } from '../snapshots/repo.ts';

export interface DiskMappingInput {
  snapshotId?: string;
  device?: string;
  diskType?: 'system' | 'data';
  sizeGib?: number;
}

export interface CreateImageInput {
  region: string;
  owner: string;
  name?: string;
  description?: string;
  family?: string;
  version?: string;
  platform?: string;
  architecture?: string;
  bootMode?: string;
  imdsSupport?: string;
  tags: Tag[];
  /** System disk first. */
  disks: DiskMappingInput[];
  source: { kind: 'snapshot' | 'instance'; id: string };
  /** Default system. A data disk image holds exactly one data disk snapshot. */
  kind?: ImageKind;
  /** 'ims' when made through an IMS project (its share limit). */
  shareFamily?: string;
  dryRun?: boolean;
}

const DATA_DEVICES = Array.from({ length: 25 }, (_, i) => `/dev/xvd${String.fromCharCode(98 + i)}`);

async function ownSnapshot(db: Kysely<Database>, region: string, owner: string, id: string): Promise<SnapshotRow> {
  const s = await db.selectFrom('snapshots').selectAll().where('id', '=', id).where('region', '=', region).where('owner_id', '=', owner).executeTakeFirst();
  if (!s) throw apiError('InvalidSnapshotId.NotFound');
  if (s.status !== 'accomplished') throw apiError('InvalidSnapshotId.NotReady');
  return s;
}

/** The image a snapshot's disk was made from (for inherited OS facts, licence class and Marketplace product). */
async function originImage(db: Kysely<Database>, snapshot: SnapshotRow): Promise<ImageRow | undefined> {
  const disk = snapshot.source_disk_id
    ? await db.selectFrom('disks').select('source_image_id').where('id', '=', snapshot.source_disk_id).executeTakeFirst()
    : undefined;
  if (!disk?.source_image_id) return undefined;
  return db.selectFrom('images').selectAll().where('region', '=', snapshot.region).where('id', '=', disk.source_image_id).executeTakeFirst();
}

function defaultName(now: number): string {
  return `image-${new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

export async function createImageFromSnapshots(services: Services, input: CreateImageInput): Promise<{ imageId: string }> {
  const { db } = services;
  const now = services.clock.now();
  const region = services.regions.require(input.region);
  const name = input.name ?? defaultName(now);
  checkImageName(name);
  if (input.description !== undefined) checkDescription(input.description);
  if (input.family) checkImageFamily(input.family);
  if (input.version !== undefined && (input.version.length > 40 || !/^[A-Za-z0-9._-]*$/.test(input.version))) throw apiError('InvalidImageVersion.Malformed');

  const kind = input.kind ?? 'system';
  const systems = input.disks.filter((d) => (d.diskType ?? 'system') === 'system');
  const data = input.disks.filter((d) => d.diskType === 'data');
  if (kind === 'data') {
    if (input.disks.length !== 1 || !input.disks[0].snapshotId) throw apiError('InvalidParameter', 'DiskDeviceMapping');
  } else {
    if (systems.length === 0) throw apiError('OperationDenied', 'The specified DiskDeviceMapping does not contain system disk snapshot.');
    if (systems.length > 1) throw apiError('OperationDenied', 'The specified DiskDeviceMapping contains two or more system disk snapshots.');
  }
  if (data.length > 16) throw apiError('InvalidParameter', 'DiskDeviceMapping');

  const disks: NewImageDisk[] = [];
  const snapshots: SnapshotRow[] = [];
  const usedDevices = new Set<string>();
  for (const [i, d] of (kind === 'data' ? input.disks : [systems[0], ...data]).entries()) {
    const type = i === 0 && kind !== 'data' ? 'system' : 'data';
    const device = d.device ?? (type === 'system' ? '/dev/xvda' : DATA_DEVICES.find((x) => !usedDevices.has(x))!);
    if ((type === 'system' && device !== '/dev/xvda') || (type === 'data' && !DATA_DEVICES.includes(device))) throw apiError('InvalidDevice.Malformed');
    if (usedDevices.has(device)) throw apiError('InvalidDevice.InUse');
    usedDevices.add(device);
    let size = d.sizeGib;
    let snapshotId = '';
    if (d.snapshotId) {
      const s = await ownSnapshot(db, region.id, input.owner, d.snapshotId);
      const m = await services.dataPlane.manifests.load(s.manifest_id);
      const snapGib = Math.max(s.source_disk_size_gib, m ? gibOf(m.manifest.virtualSize) : 0);
      if (size !== undefined && size < snapGib) throw apiError('InvalidSize.ValueNotSupported');
      size = size ?? snapGib;
      snapshotId = s.id;
      snapshots.push(s);
    } else if (type === 'system') {
      throw apiError('MissingParameter', 'DiskDeviceMapping.1.SnapshotId');
    } else {
      size = size ?? 20;
      if (size < 5 || size > 32768) throw apiError('InvalidSize.ValueNotSupported');
    }
    disks.push({ type, device, size_gib: size!, snapshot_id: snapshotId, progress: 0 });
  }

  const origin = await originImage(db, snapshots[0]);
  const platform = input.platform ?? origin?.platform ?? 'Others Linux';
  const architecture = input.architecture ?? origin?.architecture ?? 'x86_64';
  await assertNameFree(services, region.id, input.owner, name);
  await assertImageQuota(services, region.id, input.owner, services.limits.imageQuota);
  if (input.dryRun) throw apiError('DryRunOperation');

  const imageId = newResourceId('image', region.infix);
  await db.transaction().execute(async (trx) => {
    await insertImage(trx, {
      id: imageId, region: region.id, owner_id: input.owner, name, status: 'Waiting', progress: 0,
      description: input.description ?? '', family: input.family ?? '', version: input.version ?? '',
      platform, architecture, ...(origin ? { os_name: origin.os_name, os_name_en: origin.os_name_en } : osNames(platform, architecture)),
      os_type: origin?.os_type ?? (/windows/i.test(platform) ? 'windows' : 'linux'),
      boot_mode: input.bootMode ?? origin?.boot_mode ?? (architecture === 'arm64' ? 'UEFI' : 'BIOS'),
      imds_support: input.imdsSupport ?? origin?.imds_support ?? 'v1',
      license_class: origin?.license_class ?? 'none', product_code: origin?.product_code ?? '',
      is_support_cloudinit: origin?.is_support_cloudinit ?? 1,
      source_kind: input.source.kind, source_id: input.source.id, image_kind: kind, share_family: input.shareFamily ?? '',
    }, disks, input.tags, now, services.limits.imageQuota);
    await services.jobs.enqueue(trx, { kind: JOB_KIND.createImage, region: region.id, accountId: input.owner, resourceId: imageId, payload: { source: input.source } });
  });
  services.wakeWorker();
  return { imageId };
}

