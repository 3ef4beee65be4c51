/** IMS's job view of the durable jobs: `INIT|RUNNING|SUCCESS|FAIL`, and the image the job is about. */
import { apiError } from '../../domain/errors.ts';
import type { JobRow } from '../../store/schema.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { JOB_KIND } from '../job-kinds.ts';

export type ImsJobStatus = 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL';

const STATUS_OF_STATE: Record<string, ImsJobStatus> = { queued: 'INIT', running: 'RUNNING', succeeded: 'SUCCESS', failed: 'FAIL', cancelled: 'FAIL' };

export function imsJobStatus(state: string): ImsJobStatus {
  return STATUS_OF_STATE[state] ?? 'RUNNING';
}

/** IMS's `job_type` names for our job kinds. */
export const IMS_JOB_TYPES: Record<string, string> = {
  [JOB_KIND.createImage]: 'createImageByInstance',
  [JOB_KIND.importImage]: 'createImageByFile',
  [JOB_KIND.copyImage]: 'copyImage',
  [JOB_KIND.exportImage]: 'exportImage',
  [JOB_KIND.imsMembers]: 'batchMembers',
};

/** One of the caller's jobs. */
export async function findImsJob(services: Pick<Services, 'db'>, viewer: Identity, jobId: string): Promise<JobRow> {
  const job = await services.db.selectFrom('jobs').selectAll().where('id', '=', jobId).where('account_id', '=', viewer.id).executeTakeFirst();
  if (!job) throw apiError('OpenStack.NotFound', `Job ${jobId} could not be found.`);
  return job;
}
