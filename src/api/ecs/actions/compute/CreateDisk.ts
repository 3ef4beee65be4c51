import { defineAction } from '../../action.ts';
import { p, regionParam, tagParams } from '../../params.ts';
import { checkTags } from '../../../../domain/image-rules.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { DISK_CATEGORIES, PERFORMANCE_LEVELS } from '../../../../services/compute/disk-rules.ts';
import { createDisk } from '../../../../services/compute/standalone-disks.ts';

/**
 * An Available data disk: empty (Size), from a snapshot, or, as our extension, from a data disk image
 * (ImageId; other image kinds are refused by the rule table). ZoneId defaults to the region's first zone.
 */
export default defineAction({
  name: 'CreateDisk',
  schema: {
    ...regionParam,
    ZoneId: p.str({ maxLength: 64 }),
    Size: p.int({ min: 1, max: 1_000_000, invalid: 'InvalidDiskSize.ValueNotSupported' }),
    SnapshotId: p.str({ maxLength: 64 }),
    ImageId: p.str({ maxLength: 128 }),
    DiskCategory: p.str({ enum: DISK_CATEGORIES, invalid: 'InvalidDiskCategory.ValueNotSupported' }),
    PerformanceLevel: p.str({ enum: PERFORMANCE_LEVELS }),
    DiskName: p.str({ maxLength: 128, invalid: 'InvalidDiskName.Malformed' }),
    Description: p.str({ maxLength: 1024, invalid: 'InvalidDescription.Malformed' }),
    ...tagParams,
    ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    const key = { accountId, action: 'CreateDisk', token: params.ClientToken, params };
    return withClientToken(services, key, async () => {
      const id = await createDisk(services, {
        region: params.RegionId, accountId, zoneId: params.ZoneId, size: params.Size, snapshotId: params.SnapshotId, imageId: params.ImageId,
        category: params.DiskCategory, performanceLevel: params.PerformanceLevel, name: params.DiskName, description: params.Description, tags: checkTags(params.Tag), dryRun: params.DryRun,
      });
      return { DiskId: id, OrderId: '' };
    });
  },
});
