import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { changeInstanceStatus } from '../../../../services/compute/instances.ts';

export default defineAction({
  name: 'StopInstance',
  schema: { InstanceId: p.str({ required: true, maxLength: 64 }), DryRun: p.bool() },
  async run({ services, accountId }, params) {
    await changeInstanceStatus(services, params.InstanceId, accountId, 'Stopped', params.DryRun);
    return {};
  },
});
