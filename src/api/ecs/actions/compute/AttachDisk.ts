import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { attachDisk } from '../../../../services/compute/standalone-disks.ts';

/** An Available data disk onto the instance's next free device (Device, Bootable and Password are not supported). */
export default defineAction({
  name: 'AttachDisk',
  schema: { InstanceId: p.str({ required: true, maxLength: 64 }), DiskId: p.str({ required: true, maxLength: 64 }), DeleteWithInstance: p.bool() },
  async run({ services, accountId }, params) {
    await attachDisk(services, { accountId, instanceId: params.InstanceId, diskId: params.DiskId, deleteWithInstance: params.DeleteWithInstance });
    return {};
  },
});
