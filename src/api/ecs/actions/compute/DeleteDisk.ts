import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { deleteDisk } from '../../../../services/compute/standalone-disks.ts';

/** No RegionId: the region comes from the disk ID. Only an Available (detached) disk is released. */
export default defineAction({
  name: 'DeleteDisk',
  schema: { DiskId: p.str({ required: true, maxLength: 64 }) },
  async run({ services, accountId }, params) {
    await deleteDisk(services, { accountId, diskId: params.DiskId });
    return {};
  },
});
