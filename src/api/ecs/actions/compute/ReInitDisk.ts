import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { reInitDisk } from '../../../../services/compute/system-disk.ts';

/** No RegionId: the region comes from the disk ID. */
export default defineAction({
  name: 'ReInitDisk',
  schema: { DiskId: p.str({ required: true, maxLength: 64 }), AutoStartInstance: p.bool() },
  async run({ services, accountId }, params) {
    await reInitDisk(services, { accountId, diskId: params.DiskId, autoStart: params.AutoStartInstance });
    return {};
  },
});
