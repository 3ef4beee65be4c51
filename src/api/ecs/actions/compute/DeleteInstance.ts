import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { deleteInstance } from '../../../../services/compute/instances.ts';

export default defineAction({
  name: 'DeleteInstance',
  schema: { InstanceId: p.str({ required: true, maxLength: 64 }), Force: p.bool(), DryRun: p.bool() },
  async run({ services, accountId }, params) {
    await deleteInstance(services, params.InstanceId, accountId, { force: params.Force, dryRun: params.DryRun });
    return {};
  },
});
