import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { detachDisk } from '../../../../services/compute/standalone-disks.ts';

/** A data disk off its instance; it stays as an Available disk. */
export default defineAction({
  name: 'DetachDisk',
  schema: { InstanceId: p.str({ required: true, maxLength: 64 }), DiskId: p.str({ required: true, maxLength: 64 }) },
  async run({ services, accountId }, params) {
    await detachDisk(services, { accountId, instanceId: params.InstanceId, diskId: params.DiskId });
    return {};
  },
});
