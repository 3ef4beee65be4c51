import type { JobRow } from '../../../store/schema.ts';
import { supportsCancel, taskStatusOf } from './task-status.ts';
import { CANCELLABLE_KINDS } from '../../../services/job-kinds.ts';
import type { TaskItem } from '../../../services/transfer/tasks.ts';
import { isoMinutes } from './time.ts';

/** A task as DescribeTasks lists it. */
export function taskToWire(job: JobRow): Record<string, unknown> {
  return {
    TaskId: job.id,
    TaskAction: job.kind,
    TaskStatus: taskStatusOf(job.state),
    SupportCancel: String(CANCELLABLE_KINDS.includes(job.kind) && supportsCancel(job)),
    CreationTime: isoMinutes(job.created_at),
    FinishedTime: job.finished_at === null ? '' : isoMinutes(job.finished_at),
    ResourceId: job.resource_id,
  };
}

/** DescribeTaskAttribute: the task, its progress, and one OperationProgress per disk or object. */
export function taskAttributeToWire(job: JobRow, items: TaskItem[]): Record<string, unknown> {
  const { ResourceId: _resource, ...task } = taskToWire(job);
  return {
    ...task,
    RegionId: job.region,
    TaskProcess: `${job.progress}%`,
    TotalCount: items.length,
    SuccessCount: items.filter((i) => i.status === 'Success').length,
    FailedCount: items.filter((i) => i.status === 'Failed').length,
    OperationProgressSet: {
      OperationProgress: items.map((i) => ({
        OperationStatus: i.status,
        ErrorCode: i.errorCode,
        ErrorMsg: i.errorMessage,
        RelatedItemSet: { RelatedItem: i.related },
      })),
    },
  };
}
