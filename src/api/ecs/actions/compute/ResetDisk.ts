import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { resetDisk } from '../../../../services/compute/system-disk.ts';

/** No RegionId: the region comes from the disk ID. */
export default defineAction({
  name: 'ResetDisk',
  schema: { DiskId: p.str({ required: true, maxLength: 64 }), SnapshotId: p.str({ required: true, maxLength: 64 }), DryRun: p.bool() },
  async run({ services, accountId }, params) {
    await resetDisk(services, { accountId, diskId: params.DiskId, snapshotId: params.SnapshotId, dryRun: params.DryRun });
    return {};
  },
});
