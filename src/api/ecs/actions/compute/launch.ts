/** The request fields RunInstances and CreateInstance share, and their mapping to the launch use case. */
import { p, regionParam, tagParams, type Params } from '../../params.ts';
import { checkTags } from '../../../../domain/image-rules.ts';
import type { LaunchInput } from '../../../../services/compute/instances.ts';
import { dataDiskParams, systemDiskParams } from './params.ts';

export const launchSchema = {
  ...regionParam,
  ZoneId: p.str({ maxLength: 64 }),
  ImageId: p.str({ maxLength: 128 }),
  ImageFamily: p.str({ maxLength: 128 }),
  InstanceType: p.str({ required: true, maxLength: 64 }),
  InstanceName: p.str({ maxLength: 256, invalid: 'InvalidInstanceName.Malformed' }),
  InstanceChargeType: p.str({ enum: ['PrePaid', 'PostPaid'] }),
  SystemDisk: p.object(systemDiskParams),
  DataDisk: p.structs(dataDiskParams, { max: 16 }),
  ...tagParams,
  ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
  DryRun: p.bool(),
} as const;

export function launchInput(params: Params<typeof launchSchema>, accountId: string, amount: number, status: LaunchInput['status']): LaunchInput {
  return {
    region: params.RegionId,
    accountId,
    zoneId: params.ZoneId,
    imageId: params.ImageId,
    imageFamily: params.ImageFamily,
    instanceType: params.InstanceType,
    amount,
    status,
    name: params.InstanceName,
    chargeType: params.InstanceChargeType,
    systemDisk: { category: params.SystemDisk.Category, performanceLevel: params.SystemDisk.PerformanceLevel, size: params.SystemDisk.Size, name: params.SystemDisk.DiskName },
    dataDisks: params.DataDisk.map((d) => ({
      size: d.Size, snapshotId: d.SnapshotId, imageId: d.ImageId, category: d.Category, performanceLevel: d.PerformanceLevel,
      deleteWithInstance: d.DeleteWithInstance, device: d.Device, name: d.DiskName,
    })),
    tags: checkTags(params.Tag),
    dryRun: params.DryRun,
  };
}
