/**
 * IMS's job view of the durable jobs: `INIT|RUNNING|SUCCESS|FAIL`, the image the job is about, and its sub
 * jobs: a system disk image made from an instance with `data_images[]` lists the data disk images' jobs,
 * and reports SUCCESS only once they have all succeeded (FAIL when one failed).
 */
import { apiError } from '../../domain/errors.ts';
import type { JobRow } from '../../store/schema.ts';
import { parseJson } from '../../jobs/index.ts';
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
  [JOB_KIND.glanceImport]: 'registerImage',
};

/** The payload field that lists a job's sub jobs. */
const SUB_JOBS = 'imsSubJobs';

/** Records the data disk image jobs started in the same call as the system disk image job `parentId`. */
export async function attachSubJobs(services: Pick<Services, 'db'>, parentId: string, subJobIds: string[]): Promise<void> {
  if (!subJobIds.length) return;
  const parent = await services.db.selectFrom('jobs').select('payload').where('id', '=', parentId).executeTakeFirstOrThrow();
  const payload = { ...parseJson(parent.payload), [SUB_JOBS]: subJobIds };
  await services.db.updateTable('jobs').set({ payload: JSON.stringify(payload) }).where('id', '=', parentId).execute();
}

export interface ImsJobPart {
  job: JobRow;
  status: ImsJobStatus;
  imageName: string;
}

export interface ImsJob extends ImsJobPart {
  subJobs: ImsJobPart[];
}

/** A job with its own status composed with its sub jobs': FAIL if any failed, SUCCESS once all succeeded. */
export function composedStatus(own: ImsJobStatus, subs: ImsJobStatus[]): ImsJobStatus {
  const all = [own, ...subs];
  if (all.includes('FAIL')) return 'FAIL';
  if (all.every((s) => s === 'SUCCESS')) return 'SUCCESS';
  return own === 'INIT' ? 'INIT' : 'RUNNING';
}

/** One of the caller's jobs, with its sub jobs and the names of the images they make. */
export async function findImsJob(services: Pick<Services, 'db'>, viewer: Identity, jobId: string): Promise<ImsJob> {
  const job = await services.db.selectFrom('jobs').selectAll().where('id', '=', jobId).where('account_id', '=', viewer.id).executeTakeFirst();
  if (!job) throw apiError('OpenStack.NotFound', `Job ${jobId} could not be found.`);
  const subIds = (parseJson(job.payload)[SUB_JOBS] as string[] | undefined) ?? [];
  const subs = subIds.length ? await services.db.selectFrom('jobs').selectAll().where('id', 'in', subIds).where('account_id', '=', viewer.id).execute() : [];
  subs.sort((a, b) => subIds.indexOf(a.id) - subIds.indexOf(b.id));
  const imageIds = [job, ...subs].map((j) => j.resource_id).filter(Boolean);
  const rows = imageIds.length ? await services.db.selectFrom('images').select(['id', 'name']).where('id', 'in', imageIds).execute() : [];
  const names = new Map(rows.map((r) => [r.id, r.name]));
  const part = (j: JobRow): ImsJobPart => ({ job: j, status: imsJobStatus(j.state), imageName: names.get(j.resource_id) ?? '' });
  const subJobs = subs.map(part);
  const own = part(job);
  return { ...own, status: composedStatus(own.status, subJobs.map((s) => s.status)), subJobs };
}
