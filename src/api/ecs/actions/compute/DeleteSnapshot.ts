import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { deleteSnapshot } from '../../../../services/snapshots/delete.ts';

/** No RegionId: the region comes from the snapshot ID. */
export default defineAction({
  name: 'DeleteSnapshot',
  schema: { SnapshotId: p.str({ required: true, maxLength: 64 }), Force: p.bool() },
  async run({ services, accountId }, params) {
    await deleteSnapshot(services, { accountId, snapshotId: params.SnapshotId, force: params.Force });
    return {};
  },
});
