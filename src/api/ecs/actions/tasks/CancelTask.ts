import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { cancelTask } from '../../../../services/transfer/tasks.ts';

export default defineAction({
  name: 'CancelTask',
  schema: {
    ...regionParam,
    TaskId: p.str({ required: true, maxLength: 64 }),
  },
  async run({ services, accountId }, params) {
    await cancelTask(services, params.RegionId, accountId, params.TaskId);
    return {};
  },
});
