import { defineAction } from '../../action.ts';
import { p, page, pageParams, regionParam } from '../../params.ts';
import { apiError } from '../../../../domain/errors.ts';
import { describeTasks } from '../../../../services/transfer/tasks.ts';
import { parseApiTime } from '../../views/time.ts';
import { taskToWire } from '../../views/task.ts';
import { statesForTaskStatus } from '../../views/task-status.ts';

const TASK_STATUSES = ['Finished', 'Processing', 'Failed', 'Deleted', 'Waiting', 'Paused'] as const;

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = parseApiTime(value);
  if (t === undefined) throw apiError('InvalidParameter', name);
  return t;
}

export default defineAction({
  name: 'DescribeTasks',
  readOnly: true,
  schema: {
    ...regionParam,
    TaskIds: p.str({ maxLength: 100 * 64 }),
    TaskAction: p.str({ maxLength: 64 }),
    TaskStatus: p.str({ enum: TASK_STATUSES }),
    StartTime: p.str({ maxLength: 32 }),
    EndTime: p.str({ maxLength: 32 }),
    ResourceIds: p.list({ max: 100, maxLength: 128 }),
    TaskGroupId: p.str({ maxLength: 64 }),
    ...pageParams,
  },
  async run({ services, accountId }, params) {
    const ids = params.TaskIds?.split(',').map((s) => s.trim()).filter(Boolean);
    if (ids && ids.length > 100) throw apiError('InvalidParameter', 'TaskIds');
    const pg = page(params);
    const { rows, total } = await describeTasks(services, {
      region: params.RegionId,
      owner: accountId,
      ids,
      action: params.TaskAction,
      states: params.TaskStatus === undefined ? undefined : statesForTaskStatus(params.TaskStatus),
      createdFrom: time(params.StartTime, 'StartTime'),
      createdTo: time(params.EndTime, 'EndTime'),
      resourceIds: params.ResourceIds,
      offset: pg.offset,
      limit: pg.pageSize,
    });
    return {
      RegionId: params.RegionId,
      TotalCount: total,
      PageNumber: pg.pageNumber,
      PageSize: pg.pageSize,
      TaskSet: { Task: rows.map(taskToWire) },
    };
  },
});
