import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { replaceSystemDisk } from '../../../../services/compute/system-disk.ts';

/** No RegionId: the region comes from the instance ID. Returns the new system disk's ID. */
export default defineAction({
  name: 'ReplaceSystemDisk',
  schema: {
    InstanceId: p.str({ required: true, maxLength: 64 }),
    ImageId: p.str({ required: true, maxLength: 128 }),
    SystemDisk: p.object({ Size: p.int({ min: 1, max: 1_000_000, invalid: 'InvalidSystemDiskSize.ValueNotSupported' }) }),
    ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    const key = { accountId, action: 'ReplaceSystemDisk', token: params.ClientToken, params };
    return withClientToken(services, key, async () => {
      const diskId = await replaceSystemDisk(services, {
        accountId, instanceId: params.InstanceId, imageId: params.ImageId, size: params.SystemDisk.Size, dryRun: params.DryRun,
      });
      return { DiskId: diskId };
    });
  },
});
