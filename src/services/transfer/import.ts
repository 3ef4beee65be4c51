/**
 * Starting an import (ImportImage, and the direct upload of `imagehouse image import`): everything that
 * can be checked without reading the files is checked here, then the image (Waiting) and its job are
 * created in one transaction. The job (import-job.ts) inspects and imports the files.
 */
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import { ARCHITECTURES, BOOT_MODES, MAX_DISK_GIB, checkDescription, checkImageName, checkTags } from '../../domain/image-rules.ts';
import type { ImportFormat } from '../../formats/types.ts';
import type { ImageKind } from '../../domain/image-kinds.ts';
import type { Services } from '../context.ts';
import { assertImageQuota, insertImage, osNames, type NewImageDisk } from '../images/rows.ts';
import { assertNameFree } from '../images/modify.ts';
import { requireImportObject, requireTransferBucket } from '../buckets/repo.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { type ImportDiskPlan, type ImportPayload } from './kinds.ts';

export const PLATFORMS = [
  'Aliyun', 'Anolis', 'CentOS', 'Ubuntu', 'CoreOS', 'SUSE', 'Debian', 'OpenSUSE', 'FreeBSD', 'RedHat', 'Kylin', 'UOS', 'Fedora',
  'Fedora CoreOS', 'CentOS Stream', 'AlmaLinux', 'Rocky Linux', 'Gentoo', 'Customized Linux', 'Others Linux',
  'Windows Server 2022', 'Windows Server 2019', 'Windows Server 2016', 'Windows Server 2012', 'Windows Server 2008',
  'Windows Server 2003', 'Other Windows',
] as const;

/** Wire names of importable formats (`Format`, case-insensitive) and what the inspector calls them. */
const FORMATS: Record<string, ImportFormat> = { RAW: 'raw', QCOW2: 'qcow2', VHD: 'vhd', VHDX: 'vhdx', VMDK: 'vmdk' };
const DEVICES = 'abcdefghijklmnopq';

export interface ImportDiskInput {
  bucket?: string;
  object?: string;
  /** A file already uploaded to the service (direct import) instead of a bucket object. */
  upload?: string;
  format?: string;
  diskImageSize?: number;
}

export interface ImportInput {
  region: string;
  owner: string;
  name?: string;
  description?: string;
  platform?: string;
  osType?: 'linux' | 'windows';
  architecture?: string;
  bootMode?: string;
  licenseType?: string;
  imdsSupport?: 'v1' | 'v2';
  nvmeSupport?: 'supported' | 'unsupported';
  tags?: { Key?: string; Value?: string }[];
  disks: ImportDiskInput[];
  /** Default system; a data disk image is one data disk. */
  kind?: ImageKind;
  /** 'ims' when made through an IMS project (its share limit). */
  shareFamily?: string;
  dryRun?: boolean;
}

export type StartedImport = { ImageId: string; TaskId: string; RegionId: string };

export function parseImportFormat(wire: string | undefined): ImportFormat | undefined {
  if (wire === undefined || wire === '') return undefined;
  const f = FORMATS[wire.toUpperCase()];
  if (!f) throw apiError('InvalidImageFormat.Malformed');
  return f;
}

function osFields(input: ImportInput) {
  if (input.platform !== undefined && !(PLATFORMS as readonly string[]).includes(input.platform)) throw apiError('InvalidPlatform.Malformed');
  const osType = input.osType ?? (input.platform?.includes('Windows') ? 'windows' : 'linux');
  const platform = input.platform ?? (osType === 'windows' ? 'Other Windows' : 'Others Linux');
  if ((osType === 'windows') !== platform.includes('Windows')) throw apiError('InvalidPlatform.Malformed');
  const architecture = input.architecture ?? 'x86_64';
  if (!(ARCHITECTURES as readonly string[]).includes(architecture)) throw apiError('InvalidArchitecture.Malformed');
  const bootMode = input.bootMode ?? (architecture === 'arm64' ? 'UEFI' : 'BIOS');
  if (!(BOOT_MODES as readonly string[]).includes(bootMode)) throw apiError('InvalidBootMode.Malformed');
  if (architecture === 'arm64' && bootMode !== 'UEFI') throw apiError('InvalidBootMode.NotSupport');
  const licenseType = input.licenseType ?? 'Aliyun';
  if (licenseType !== 'Aliyun' && licenseType !== 'BYOL') throw apiError('InvalidLicenseType.NotSupported');
  const licenseClass = licenseType === 'BYOL' ? 'none' : osType === 'windows' ? 'windows' : platform === 'RedHat' ? 'rhel' : platform === 'SUSE' ? 'suse' : 'none';
  return { os_type: osType, platform, architecture, boot_mode: bootMode, license_type: licenseType, license_class: licenseClass, ...osNames(platform, architecture) };
}

/** Validates one disk; the system disk is the first. */
async function planDisk(services: Services, input: ImportInput, d: ImportDiskInput, n: number): Promise<ImportDiskPlan> {
  const sizeCode = n === 1 ? 'InvalidImageSize' : 'InvalidDataDiskSize';
  if (d.diskImageSize !== undefined && !(Number.isInteger(d.diskImageSize) && d.diskImageSize >= 1 && d.diskImageSize <= MAX_DISK_GIB)) {
    throw apiError(sizeCode, `DiskDeviceMapping.${n}.DiskImageSize must be 1 to ${MAX_DISK_GIB} GiB`);
  }
  const format = parseImportFormat(d.format);
  if (d.upload) return { bucket: '', key: '', upload: d.upload, format, sizeGib: d.diskImageSize };
  if (!d.bucket) throw apiError('MissingParameter', `DiskDeviceMapping.${n}.OSSBucket`);
  if (!d.object) throw apiError('MissingParameter', `DiskDeviceMapping.${n}.OSSObject`);
  await requireTransferBucket(services, d.bucket, input.owner, input.region);
  await requireImportObject(services, d.bucket, d.object);
  return { bucket: d.bucket, key: d.object, format, sizeGib: d.diskImageSize };
}

export async function startImport(services: Services, input: ImportInput): Promise<StartedImport> {
  const region = services.regions.require(input.region);
  if (input.disks.length === 0) throw apiError('MissingParameter.DiskDeviceMapping');
  if (input.kind === 'data' && input.disks.length !== 1) throw apiError('InvalidParameter', 'DiskDeviceMapping');
  if (input.name !== undefined) checkImageName(input.name);
  if (input.description !== undefined && input.description !== '') checkDescription(input.description);
  const tags = checkTags(input.tags ?? []);
  const os = osFields(input);
  const plans: ImportDiskPlan[] = [];
  for (const [i, d] of input.disks.entries()) plans.push(await planDisk(services, input, d, i + 1));
  if (input.name !== undefined) await assertNameFree(services, region.id, input.owner, input.name);
  await assertImageQuota(services, region.id, input.owner, services.limits.imageQuota);
  if (input.dryRun) throw apiError('DRYRUN.SUCCESS');

  const imageId = newResourceId('image', region.infix);
  const taskId = newResourceId('task', region.infix);
  const now = services.clock.now();
  const disks: NewImageDisk[] = plans.map((p, i) => ({
    type: i === 0 && input.kind !== 'data' ? 'system' : 'data',
    device: `/dev/xvd${DEVICES[input.kind === 'data' ? i + 1 : i]}`,
    size_gib: p.sizeGib ?? 0,
    format: p.format?.toUpperCase() ?? '',
    import_bucket: p.bucket,
    import_object: p.key,
  }));
  const payload: ImportPayload = { disks: plans };
  await services.db.transaction().execute(async (trx) => {
    await insertImage(trx, {
      id: imageId,
      region: region.id,
      owner_id: input.owner,
      name: input.name ?? `import-${imageId.slice(2)}`,
      description: input.description ?? '',
      status: 'Waiting',
      source_kind: 'import',
      source_id: plans[0].upload ? 'upload' : `oss://${plans[0].bucket}/${plans[0].key}`,
      imds_support: input.imdsSupport ?? 'v1',
      nvme_support: input.nvmeSupport ?? 'unsupported',
      image_kind: input.kind ?? 'system',
      share_family: input.shareFamily ?? '',
      ...os,
    }, disks, tags, now, services.limits.imageQuota);
    await services.jobs.enqueue(trx, { id: taskId, kind: JOB_KIND.importImage, region: region.id, accountId: input.owner, resourceId: imageId, payload });
  });
  services.wakeWorker();
  return { ImageId: imageId, TaskId: taskId, RegionId: region.id };
}
