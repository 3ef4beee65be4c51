/**
 * Starting an ExportImage: only the caller's own Available custom images, into the caller's bucket in the
 * image's region. One object per disk, named `<OSSPrefix>_<ImageId>_<TaskId>.<ext>` for the system disk and
 * `<OSSPrefix>_<ImageId>_<TaskId>_<N>.<ext>` for data disk N (N = 1, 2, ... in disk order); without a prefix
 * the name starts at the image ID.
 */
import { ApiError, apiError } from '../../domain/errors.ts';
import { assertImageAllows } from '../../domain/image-kinds.ts';
import { newResourceId } from '../../domain/ids.ts';
import type { ExportFormat } from '../../formats/types.ts';
import { exportExtension } from '../../formats/writers/index.ts';
import type { Services } from '../context.ts';
import { findVisibleImage } from '../images/describe.ts';
import { requireTransferBucket } from '../buckets/repo.ts';
import type { ExportPayload } from './kinds.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { activeJobKind } from '../../jobs/index.ts';

const FORMATS: Record<string, ExportFormat> = { raw: 'raw', qcow2: 'qcow2', vhd: 'vhd', vmdk: 'vmdk' };
const MAX_DATA_DISKS = 4;
const MAX_DATA_DISK_GIB = 500;

export interface ExportInput {
  region: string;
  owner: string;
  imageId: string;
  bucket: string;
  prefix?: string;
  /** The exact object name of the first disk (IMS's `bucket_url: "bucket:object"`); later disks get `_N` before the extension. */
  objectKey?: string;
  format?: string;
  dryRun?: boolean;
}

export function parseExportFormat(wire: string | undefined): ExportFormat {
  if (wire === undefined || wire === '') return 'raw';
  const f = FORMATS[wire.toLowerCase()];
  if (!f) throw apiError('InvalidImageFormat.Malformed');
  return f;
}

export function exportObjectKey(prefix: string, imageId: string, taskId: string, dataDiskNumber: number, format: ExportFormat): string {
  const stem = [prefix, imageId, taskId, dataDiskNumber > 0 ? String(dataDiskNumber) : ''].filter(Boolean).join('_');
  return `${stem}.${exportExtension(format)}`;
}

export async function startExport(services: Services, input: ExportInput): Promise<{ TaskId: string; RegionId: string }> {
  const region = services.regions.require(input.region);
  const prefix = input.prefix ?? '';
  if (prefix !== '' && !/^[A-Za-z0-9]{1,30}$/.test(prefix)) throw apiError('InvalidOSSPrefix.Malformed');
  const format = parseExportFormat(input.format);
  const view = await findVisibleImage(services, region.id, input.imageId, input.owner);
  if (!view) throw apiError('InvalidImageId.NotFound');
  const image = view.row;
  if (view.alias !== 'self') throw apiError('InvalidImageCategory.NotSupported');
  if (image.product_code) throw apiError('ImageNotSupported');
  assertImageAllows(image, 'export');
  if (image.encrypted) throw new ApiError('ImageNotSupported', 'The specified Image contains encrypted snapshots, do not support export.');
  if (image.status !== 'Available') throw apiError('IncorrectImageStatus');
  const data = view.disks.filter((d) => d.type === 'data');
  if (data.length > MAX_DATA_DISKS || data.some((d) => d.size_gib > MAX_DATA_DISK_GIB)) throw apiError('InvalidImage.DiskAmountOrSize');
  await requireTransferBucket(services, input.bucket, input.owner, region.id);
  if (await activeJobKind(services.db, image.id, [JOB_KIND.exportImage])) throw apiError('ImageIsExporting');
  if (input.dryRun) throw apiError('DryRunOperation');

  const taskId = newResourceId('task', region.infix);
  let dataNumber = 0;
  const payload: ExportPayload = {
    bucket: input.bucket,
    format,
    objects: view.disks.map((d) => ({
      idx: d.idx,
      snapshotId: d.snapshot_id,
      key: input.objectKey === undefined ? exportObjectKey(prefix, image.id, taskId, d.type === 'data' ? ++dataNumber : 0, format)
        : d.idx === view.disks[0].idx ? input.objectKey : `${input.objectKey}_${++dataNumber}`,
    })),
  };
  await services.jobs.enqueue(services.db, { id: taskId, kind: JOB_KIND.exportImage, region: region.id, accountId: input.owner, resourceId: image.id, payload });
  services.wakeWorker();
  return { TaskId: taskId, RegionId: region.id };
}
