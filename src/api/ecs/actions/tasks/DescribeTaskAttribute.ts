import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { requireTask, taskItems } from '../../../../services/transfer/tasks.ts';
import { taskAttributeToWire } from '../../views/task.ts';

export default defineAction({
  name: 'DescribeTaskAttribute',
  readOnly: true,
  schema: {
    ...regionParam,
    TaskId: p.str({ required: true, maxLength: 64 }),
  },
  async run({ services, accountId }, params) {
    const job = await requireTask(services, params.RegionId, accountId, params.TaskId);
    return taskAttributeToWire(job, taskItems(job));
  },
});
