import { defineAction } from '../../action.ts';
import { p, regionParam, tagParams } from '../../params.ts';
import { apiError, ApiError } from '../../../../domain/errors.ts';
import { ARCHITECTURES, BOOT_MODES, checkTags } from '../../../../domain/image-rules.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { createImageFromSnapshots, type CreateImageInput } from '../../../../services/images/create-image.ts';
import { createImageFromInstance } from '../../../../services/images/from-instance.ts';

export default defineAction({
  name: 'CreateImage',
  schema: {
    ...regionParam,
    InstanceId: p.str({ maxLength: 64 }),
    SnapshotId: p.str({ maxLength: 64 }),
    DiskDeviceMapping: p.structs({
      SnapshotId: p.str({ maxLength: 64 }),
      Device: p.str({ maxLength: 32, invalid: 'InvalidDevice.Malformed' }),
      DiskType: p.str({ enum: ['system', 'data'] }),
      Size: p.int({ min: 1, max: 32768, invalid: 'InvalidSize.ValueNotSupported' }),
    }, { max: 17 }),
    ImageName: p.str({ maxLength: 256, invalid: 'InvalidImageName.Malformed' }),
    ImageFamily: p.str({ maxLength: 256, invalid: 'InvalidImageFamily.Malformed' }),
    ImageVersion: p.str({ maxLength: 64, invalid: 'InvalidImageVersion.Malformed' }),
    Description: p.str({ maxLength: 1024, invalid: 'InvalidDescription.Malformed' }),
    Platform: p.str({ maxLength: 64, invalid: 'InvalidPlatform.Malformed' }),
    Architecture: p.str({ enum: ARCHITECTURES, invalid: 'InvalidArchitecture.Malformed' }),
    BootMode: p.str({ enum: BOOT_MODES, invalid: 'InvalidBootMode.NotSupport' }),
    Features: p.object({ ImdsSupport: p.str({ enum: ['v1', 'v2'], invalid: 'InvalidParameter.FeaturesImdsSupport' }) }),
    ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
    DetectionStrategy: p.str({ enum: ['Standard'] }),
    ResourceGroupId: p.str({ maxLength: 64 }),
    DryRun: p.bool(),
    ...tagParams,
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const base: Omit<CreateImageInput, 'disks' | 'source'> = {
      region: region.id, owner: accountId, name: params.ImageName, description: params.Description, family: params.ImageFamily,
      version: params.ImageVersion, platform: params.Platform, architecture: params.Architecture, bootMode: params.BootMode,
      imdsSupport: params.Features.ImdsSupport, tags: checkTags(params.Tag), dryRun: params.DryRun,
    };
    const create = async () => {
      // Alibaba's priority: InstanceId > DiskDeviceMapping > SnapshotId.
      if (params.InstanceId) return createImageFromInstance(services, base, params.InstanceId);
      if (params.DiskDeviceMapping.length) {
        return createImageFromSnapshots(services, {
          ...base,
          disks: params.DiskDeviceMapping.map((d, i) => ({
            snapshotId: d.SnapshotId, device: d.Device, sizeGib: d.Size,
            // Without DiskType, /dev/xvda (or the first mapping without a device) is the system disk.
            diskType: d.DiskType ?? ((d.Device ?? (i === 0 ? '/dev/xvda' : '')) === '/dev/xvda' ? 'system' : 'data'),
          })),
          source: { kind: 'snapshot', id: params.DiskDeviceMapping.map((d) => d.SnapshotId ?? '').join(',') },
        });
      }
      if (params.SnapshotId) {
        return createImageFromSnapshots(services, { ...base, disks: [{ snapshotId: params.SnapshotId, diskType: 'system' }], source: { kind: 'snapshot', id: params.SnapshotId } });
      }
      throw new ApiError('MissingParameter', 'The input parameter SnapshotId or InstanceId or DiskDeviceMapping that is mandatory for processing this request is not supplied.');
    };
    const { imageId } = await withClientToken(services, { accountId, action: 'CreateImage', token: params.ClientToken, params: { ...params, RegionId: region.id } }, async () => create())
      .catch((e) => { throw e instanceof ApiError && e.code === 'IdempotentParameterMismatch' ? apiError('IdempotenceParamNotMatch') : e; });
    return { ImageId: imageId };
  },
});
