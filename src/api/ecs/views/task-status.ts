/** How job states read on the wire as Alibaba task statuses (DescribeTasks, DescribeTaskAttribute). */
import type { JobRow } from '../../../store/schema.ts';
import type { JobState } from '../../../jobs/index.ts';

export type TaskStatus = 'Processing' | 'Finished' | 'Failed' | 'Deleted';

const STATUS_OF_STATE: Record<JobState, TaskStatus> = {
  queued: 'Processing',
  running: 'Processing',
  succeeded: 'Finished',
  failed: 'Failed',
  cancelled: 'Deleted',
};

export function taskStatusOf(state: string): TaskStatus {
  return STATUS_OF_STATE[state as JobState] ?? 'Processing';
}

/** The job states a TaskStatus filter selects (empty for an unknown status). */
export function statesForTaskStatus(status: string): JobState[] {
  return (Object.keys(STATUS_OF_STATE) as JobState[]).filter((s) => STATUS_OF_STATE[s] === status);
}

/** A task can still be cancelled while it has not finished and no cancel is pending. */
export function supportsCancel(job: Pick<JobRow, 'state' | 'cancel_requested'>): boolean {
  return (job.state === 'queued' || job.state === 'running') && !job.cancel_requested;
}
