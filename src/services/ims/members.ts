/**
 * IMS's batch member API over Glance's members: add (pending), accept/reject (by the member), remove. Every
 * check runs when the request arrives, so a refusal (the 129th tenant, an encrypted or full-ECS image) is an
 * error at once; the changes themselves are made by a durable job, whose id is IMS's `job_id`.
 */
import { apiError } from '../../domain/errors.ts';
import { assertImageAllows, shareLimitOf } from '../../domain/image-kinds.ts';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { findProject, type Identity } from '../identity/tokens.ts';
import { accountExists } from '../accounts.ts';
import { getImage } from '../glance/images.ts';
import { openstackRegion } from '../glance/region.ts';
import { addMember, listMembers, removeMember, updateMember } from '../glance/members.ts';

export type MemberBatch =
  | { op: 'add' | 'remove'; images: string[]; projects: string[] }
  | { op: 'status'; images: string[]; project: string; status: 'accepted' | 'rejected' };

const bad = (msg: string) => apiError('OpenStack.BadRequest', msg);

function ids(v: unknown, key: string, max: number): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max || v.some((x) => typeof x !== 'string' || x === '')) throw bad(`${key} must be a list of 1 to ${max} IDs`);
  return [...new Set(v as string[])];
}

/** The request body of POST / DELETE (`images`, `projects`) or PUT (`images`, `project_id`, `status`). */
export function parseMemberBatch(method: 'POST' | 'PUT' | 'DELETE', body: Record<string, unknown>): MemberBatch {
  const images = ids(body.images, 'images', 100);
  if (method === 'PUT') {
    if (typeof body.project_id !== 'string') throw bad('project_id is required');
    if (body.status !== 'accepted' && body.status !== 'rejected') throw bad('status must be accepted or rejected');
    return { op: 'status', images, project: body.project_id, status: body.status };
  }
  return { op: method === 'POST' ? 'add' : 'remove', images, projects: ids(body.projects, 'projects', 256) };
}

async function check(services: Services, viewer: Identity, batch: MemberBatch): Promise<void> {
  if (batch.op === 'status') {
    if (batch.project !== viewer.id) throw apiError('OpenStack.Forbidden', 'Only the member project may accept or reject a share.');
    for (const id of batch.images) if (!(await listMembers(services, viewer, id)).some((m) => m.member_id === viewer.id)) throw apiError('OpenStack.NotFound', `Image ${id} is not shared with project ${viewer.id}.`);
    return;
  }
  for (const project of batch.projects) {
    if (project === viewer.id) throw bad('The owner cannot be a member of its own image.');
    if (batch.op === 'add' && !(/^\d{1,20}$/.test(project) && (await accountExists(services, project)))) throw bad(`Project ${project} does not exist.`);
  }
  for (const id of batch.images) {
    const img = await getImage(services, viewer, id);
    if (img.owner !== viewer.id) throw apiError('OpenStack.Forbidden', `Image ${id} is not owned by project ${viewer.id}.`);
    if (batch.op === 'remove') continue;
    assertImageAllows(img.row, 'share');
    if (img.status !== 'active') throw apiError('OpenStack.Conflict', `Image ${id} is ${img.status}; only active images can be shared.`);
    const current = new Set((await listMembers(services, viewer, id)).map((m) => m.member_id));
    const after = current.size + batch.projects.filter((p) => !current.has(p)).length;
    const limit = shareLimitOf(img.row);
    if (after > limit) throw apiError('OpenStack.RequestEntityTooLarge', `Image ${id} may be shared with at most ${limit} projects (it would have ${after}).`);
  }
}

async function apply(services: Services, viewer: Identity, batch: MemberBatch): Promise<void> {
  for (const id of batch.images) {
    if (batch.op === 'status') {
      await updateMember(services, viewer, id, viewer.id, batch.status);
      continue;
    }
    const current = new Set((await listMembers(services, viewer, id)).map((m) => m.member_id));
    for (const project of batch.projects) {
      if (batch.op === 'add' && !current.has(project)) await addMember(services, viewer, id, project);
      if (batch.op === 'remove' && current.has(project)) await removeMember(services, viewer, id, project);
    }
  }
}

/** Checks the batch, then queues the job that applies it; returns the job id. */
export async function startMemberBatch(services: Services, viewer: Identity, batch: MemberBatch): Promise<string> {
  await check(services, viewer, batch);
  const job = await services.jobs.enqueue(services.db, {
    kind: JOB_KIND.imsMembers, region: openstackRegion(services), accountId: viewer.id, resourceId: batch.images[0], payload: batch, maxAttempts: 1,
  });
  services.wakeWorker();
  return job.id;
}

export function memberBatchJob(services: Services): JobKind {
  return {
    async handler(job) {
      const viewer = await findProject(services, job.account_id);
      if (!viewer) throw apiError('OpenStack.NotFound', `Project ${job.account_id} no longer exists.`);
      await apply(services, viewer, JSON.parse(job.payload) as MemberBatch);
      return {};
    },
  };
}
