/**
 * Tasks as the API shows them: an account's jobs in a region (DescribeTasks, DescribeTaskAttribute), and
 * CancelTask for imports and exports. A cancelled import leaves its image UnAvailable (import-job.ts).
 */
import { apiError } from '../../domain/errors.ts';
import { parseJson, type JobRow, type JobState } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import type { ExportPayload, ImportPayload } from './kinds.ts';
import { CANCELLABLE_KINDS, JOB_KIND, NON_ECS_KINDS } from '../job-kinds.ts';

export interface TaskFilter {
  region: string;
  owner: string;
  ids?: string[];
  action?: string;
  /** Undefined: any state; empty: none. */
  states?: JobState[];
  createdFrom?: number;
  createdTo?: number;
  resourceIds?: string[];
  offset: number;
  limit: number;
}

export async function describeTasks(services: Services, f: TaskFilter): Promise<{ rows: JobRow[]; total: number }> {
  services.regions.require(f.region);
  return services.jobs.list({
    accountId: f.owner,
    region: f.region,
    ids: f.ids,
    kinds: f.action ? [f.action] : undefined,
    hiddenKinds: NON_ECS_KINDS,
    states: f.states,
    resourceIds: f.resourceIds,
    createdFrom: f.createdFrom,
    createdTo: f.createdTo,
    offset: f.offset,
    limit: f.limit,
  });
}

/** The caller's task in the region, or InvalidTaskId.NotFound. */
export async function requireTask(services: Services, region: string, owner: string, taskId: string): Promise<JobRow> {
  services.regions.require(region);
  const job = await services.jobs.get(taskId);
  if (!job || job.account_id !== owner || job.region !== region || NON_ECS_KINDS.includes(job.kind)) throw apiError('InvalidTaskId.NotFound');
  return job;
}

export async function cancelTask(services: Services, region: string, owner: string, taskId: string): Promise<void> {
  const job = await requireTask(services, region, owner, taskId);
  if (!CANCELLABLE_KINDS.includes(job.kind)) throw apiError('InvalidTaskId.TaskActionNotSupport');
  if (job.state !== 'queued' && job.state !== 'running') throw apiError('InvalidTaskId.IncorrectTaskStatus');
  await services.jobs.requestCancel(job.id);
  services.wakeWorker();
}

/** One unit of work in a task (a disk of an import, an object of an export) as DescribeTaskAttribute lists it. */
export interface TaskItem {
  status: 'Success' | 'Failed' | 'Processing' | 'Cancelled';
  errorCode: string;
  errorMessage: string;
  related: { Name: string; Value: string }[];
}

export function taskItems(job: JobRow): TaskItem[] {
  const payload = parseJson(job.payload);
  const state = parseJson(job.result);
  const statusOf = (finished: boolean): TaskItem['status'] =>
    finished || job.state === 'succeeded' ? 'Success' : job.state === 'failed' ? 'Failed' : job.state === 'cancelled' ? 'Cancelled' : 'Processing';
  const item = (finished: boolean, related: TaskItem['related']): TaskItem => {
    const status = statusOf(finished);
    return { status, errorCode: status === 'Failed' ? job.error_code : '', errorMessage: status === 'Failed' ? job.error_message : '', related };
  };
  if (job.kind === JOB_KIND.importImage) {
    const done = (state.disks ?? {}) as Record<string, unknown>;
    return ((payload as unknown as ImportPayload).disks ?? []).map((d, i) => item(done[i] !== undefined, [
      { Name: 'ImageId', Value: job.resource_id },
      ...(d.bucket ? [{ Name: 'OSSBucket', Value: d.bucket }, { Name: 'OSSObject', Value: d.key }] : []),
    ]));
  }
  if (job.kind === JOB_KIND.exportImage) {
    const p = payload as unknown as ExportPayload;
    const done = new Set((state.done as number[] | undefined) ?? []);
    return (p.objects ?? []).map((o) => item(done.has(o.idx), [{ Name: 'OSSBucket', Value: p.bucket }, { Name: 'OSSObject', Value: o.key }]));
  }
  return [item(false, job.resource_id ? [{ Name: 'ResourceId', Value: job.resource_id }] : [])];
}
