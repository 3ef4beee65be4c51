import { defineAction } from '../../action.ts';
import { p, tagParams } from '../../params.ts';
import { checkTags } from '../../../../domain/image-rules.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { createSnapshot } from '../../../../services/snapshots/create.ts';

/** No RegionId: the region comes from the disk ID. */
export default defineAction({
  name: 'CreateSnapshot',
  schema: {
    DiskId: p.str({ required: true, maxLength: 64 }),
    SnapshotName: p.str({ maxLength: 256, invalid: 'InvalidSnapshotName.Malformed' }),
    Description: p.str({ maxLength: 1024, invalid: 'InvalidDescription.Malformed' }),
    RetentionDays: p.int({ invalid: 'InvalidRetentionDays.Malformed' }),
    ...tagParams,
    ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    const key = { accountId, action: 'CreateSnapshot', token: params.ClientToken, params };
    return withClientToken(services, key, async () => {
      const id = await createSnapshot(services, {
        accountId, diskId: params.DiskId, name: params.SnapshotName, description: params.Description,
        retentionDays: params.RetentionDays, tags: checkTags(params.Tag), dryRun: params.DryRun,
      });
      return { SnapshotId: id };
    });
  },
});
