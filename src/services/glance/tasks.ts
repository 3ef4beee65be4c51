/**
 * Glance tasks over the durable job queue. An interoperable import (POST /v2/images/{id}/import) is an
 * `api_image_import` task (job kind GlanceImport); the tasks API (POST /v2/tasks, admin-only as in Glance since
 * Wallaby) makes `import` tasks (kind GlanceTask): it creates the image from `image_properties` and queues the same
 * web-download the import method runs, so `import_from` passes the same SSRF checks (OSSN-0105). PUT /file's jobs
 * (GlanceUpload) are not tasks.
 */
import type { JobRow } from '../../store/schema.ts';
import { apiError } from '../../domain/errors.ts';
import { DISK_FORMATS } from '../../domain/glance-status.ts';
import { parseJson } from '../../jobs/index.ts';
import type { Services } from '../context.ts';
import { JOB_KIND } from '../job-kinds.ts';
import type { Identity } from '../identity/tokens.ts';
import { createImage, getImage } from './images.ts';
import { declaredFormat } from './data.ts';
import { queueImport, type ImportPayload } from './import.ts';
import { sourceParams } from './glance-download.ts';

export type TaskStatus = 'pending' | 'processing' | 'success' | 'failure';

export interface GlanceTask {
  id: string;
  type: 'api_image_import' | 'import';
  status: TaskStatus;
  owner: string;
  image_id: string;
  input: Record<string, unknown>;
  result: Record<string, unknown> | null;
  message: string;
  created_at: number;
  updated_at: number;
}

const TYPE_KIND = { api_image_import: JOB_KIND.glanceImport, import: JOB_KIND.glanceTask } as const;
const STATUS_STATES: Record<TaskStatus, string[]> = { pending: ['queued'], processing: ['running'], success: ['succeeded'], failure: ['failed', 'cancelled'] };
const SORT_KEYS = { created_at: 'created_at', updated_at: 'updated_at', id: 'id' } as const;

const badRequest = (msg: string) => apiError('OpenStack.BadRequest', msg);

export function taskOf(job: JobRow): GlanceTask {
  const status = (Object.keys(STATUS_STATES) as TaskStatus[]).find((s) => STATUS_STATES[s].includes(job.state)) ?? 'failure';
  const p = parseJson(job.payload) as Partial<ImportPayload>;
  const type = job.kind === JOB_KIND.glanceTask ? 'import' : 'api_image_import';
  const input = type === 'import'
    ? p.taskInput ?? {}
    : { image_id: job.resource_id, import_req: { method: { name: p.method, ...(p.uri ? { uri: p.uri } : {}), ...(p.source ? sourceParams(p.source) : {}) } } };
  return {
    id: job.id, type, status, owner: job.account_id, image_id: job.resource_id, input,
    result: status === 'success' ? { image_id: job.resource_id } : null, message: job.error_message,
    created_at: job.created_at, updated_at: job.updated_at,
  };
}

/** GET /v2/images/{id}/tasks: the image's import jobs as Glance tasks, oldest first. */
export async function imageTasks(services: Services, viewer: Identity, id: string): Promise<GlanceTask[]> {
  await getImage(services, viewer, id);
  const jobs = await services.db.selectFrom('jobs').selectAll().where('kind', 'in', [JOB_KIND.glanceImport, JOB_KIND.glanceTask]).where('resource_id', '=', id).orderBy('created_at').execute();
  // Before GlanceUpload existed, PUT /file's jobs were GlanceImport jobs too.
  return jobs.filter((j) => (parseJson(j.payload) as Partial<ImportPayload>).method !== 'upload').map(taskOf);
}

function requireAdmin(viewer: Identity): void {
  if (!viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'You are not authorized to complete tasks_api_access action.');
}

export interface TaskListQuery {
  type?: string;
  status?: string;
  limit: number;
  marker?: string;
  sortKey?: string;
  sortDir?: string;
}

/** GET /v2/tasks: filtered by type and status, sorted (created_at desc by default), keyset-paged by marker. */
export async function listTasks(services: Services, viewer: Identity, q: TaskListQuery): Promise<GlanceTask[]> {
  requireAdmin(viewer);
  const kinds = q.type === undefined ? Object.values(TYPE_KIND) : [TYPE_KIND[q.type as keyof typeof TYPE_KIND]];
  if (!kinds[0]) throw badRequest(`Invalid type value: ${q.type}`);
  const states = q.status === undefined ? undefined : STATUS_STATES[q.status as TaskStatus];
  if (q.status !== undefined && !states) throw badRequest(`Invalid status value: ${q.status}`);
  const key = SORT_KEYS[(q.sortKey ?? 'created_at') as keyof typeof SORT_KEYS];
  if (!key) throw badRequest(`Invalid sort key: ${q.sortKey}. Sort keys: ${Object.keys(SORT_KEYS).join(', ')}`);
  const dir = q.sortDir ?? 'desc';
  if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Invalid sort direction: ${dir}`);
  let query = services.db.selectFrom('jobs').selectAll().where('kind', 'in', kinds);
  if (states) query = query.where('state', 'in', states);
  if (q.marker !== undefined) {
    const m = await services.db.selectFrom('jobs').selectAll().where('id', '=', q.marker).where('kind', 'in', Object.values(TYPE_KIND)).executeTakeFirst();
    if (!m) throw badRequest(`Invalid marker. Task ${q.marker} could not be found.`);
    const op = dir === 'desc' ? '<' : '>';
    query = key === 'id'
      ? query.where('id', op, m.id)
      : query.where((eb) => eb.or([eb(key, op, m[key]), eb.and([eb(key, '=', m[key]), eb('id', op, m.id)])]));
  }
  const jobs = await query.orderBy(key, dir).orderBy('id', dir).limit(q.limit).execute();
  return jobs.map(taskOf);
}

/** GET /v2/tasks/{id}. */
export async function getTask(services: Services, viewer: Identity, id: string): Promise<GlanceTask> {
  requireAdmin(viewer);
  const job = await services.db.selectFrom('jobs').selectAll().where('id', '=', id).where('kind', 'in', Object.values(TYPE_KIND)).executeTakeFirst();
  if (!job) throw apiError('OpenStack.NotFound', `Task with identifier ${id} not found`);
  return taskOf(job);
}

/**
 * POST /v2/tasks `{"type":"import","input":{"import_from","import_from_format","image_properties"}}`: the image is
 * created at once (its disk_format is import_from_format unless image_properties names one), the download runs
 * as a job; a failure fails the task and leaves the image queued with `os_glance_failed_import`.
 */
export async function createTask(services: Services, viewer: Identity, body: unknown): Promise<GlanceTask> {
  requireAdmin(viewer);
  const req = (body ?? {}) as { type?: unknown; input?: unknown };
  if (req.type !== 'import') throw badRequest(`Task type ${String(req.type)} is not supported; the one type is import`);
  const input = req.input as { import_from?: unknown; import_from_format?: unknown; image_properties?: unknown } | undefined;
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw badRequest('Input for an import task must be an object');
  if (typeof input.import_from !== 'string' || input.import_from === '') throw badRequest('Input does not contain import_from');
  if (typeof input.import_from_format !== 'string' || !(DISK_FORMATS as readonly string[]).includes(input.import_from_format)) {
    throw badRequest(`Invalid import_from_format ${String(input.import_from_format)}; valid: ${DISK_FORMATS.join(', ')}`);
  }
  const props = input.image_properties ?? {};
  if (typeof props !== 'object' || Array.isArray(props)) throw badRequest('image_properties must be an object');
  const attrs = { disk_format: input.import_from_format, container_format: 'bare', ...(props as Record<string, unknown>) };
  declaredFormat(attrs as { disk_format: string | null; container_format: string | null });
  const img = await createImage(services, viewer, attrs);
  const job = await queueImport(services, img, { method: 'web-download', uri: input.import_from, taskInput: input as Record<string, unknown> }, JOB_KIND.glanceTask);
  return taskOf(job);
}
