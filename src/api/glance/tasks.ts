/** Glance tasks routes (`/v2/tasks`, its schemas, and the task view `/v2/images/{id}/tasks` uses): a thin adapter over services/glance/tasks.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import type { Identity } from '../../services/identity/tokens.ts';
import { MAX_LIST_LIMIT } from '../../services/glance/list.ts';
import { createTask, getTask, listTasks, type GlanceTask } from '../../services/glance/tasks.ts';
import { queryPairs } from '../http/query.ts';
import { baseUrl, glanceTime as iso, pageLinks } from '../http/openstack.ts';

type Send = (reply: FastifyReply, status: number, body?: unknown) => FastifyReply;

export const taskView = (t: GlanceTask) => ({
  ...t, created_at: iso(t.created_at), updated_at: iso(t.updated_at), expires_at: null, request_id: null, user_id: t.owner,
  self: `/v2/tasks/${t.id}`, schema: '/v2/schemas/task',
});
/** The list leaves out each task's input and result, as Glance's does. */
const taskListView = (t: GlanceTask) => {
  const { input: _input, result: _result, ...rest } = taskView(t);
  return rest;
};

function schemaOfTask() {
  const str = { type: 'string' };
  return {
    name: 'task',
    properties: {
      id: { type: 'string' }, type: { type: 'string', enum: ['import', 'api_image_import'] },
      status: { type: 'string', enum: ['pending', 'processing', 'success', 'failure'] }, input: { type: 'object' },
      result: { type: ['null', 'object'] }, owner: str, message: str, image_id: str, request_id: { type: ['null', 'string'] }, user_id: str,
      expires_at: { type: ['null', 'string'] }, created_at: str, updated_at: str, self: str, schema: str,
    },
    required: ['type', 'input'],
    links: [{ rel: 'self', href: '{self}' }, { rel: 'describedby', href: '{schema}' }],
  };
}

export function registerGlanceTasks(app: FastifyInstance, services: Services, V2: string, auth: (req: FastifyRequest) => Promise<Identity>, send: Send): void {
  app.post(`${V2}/tasks`, async (req, reply) => {
    const task = await createTask(services, await auth(req), req.body);
    reply.header('location', `${baseUrl(req)}${V2}/tasks/${task.id}`);
    return send(reply, 201, taskView(task));
  });
  app.get(`${V2}/tasks`, async (req, reply) => {
    const viewer = await auth(req);
    const q: Record<string, string> = {};
    for (const [k, v] of queryPairs(req.raw.url)) {
      if (!['type', 'status', 'limit', 'marker', 'sort_key', 'sort_dir'].includes(k)) throw apiError('OpenStack.BadRequest', `Invalid filter: ${k}`);
      q[k] = v;
    }
    const limit = q.limit === undefined ? 25 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 0) throw apiError('OpenStack.BadRequest', 'limit param must be a non-negative integer');
    const tasks = await listTasks(services, viewer, { type: q.type, status: q.status, limit: Math.min(limit, MAX_LIST_LIMIT), marker: q.marker, sortKey: q.sort_key, sortDir: q.sort_dir });
    // Glance's task list names its first page without the query.
    const { next } = pageLinks('/v2/tasks', Object.entries(q), tasks, Math.min(limit, MAX_LIST_LIMIT));
    return send(reply, 200, { tasks: tasks.map(taskListView), first: '/v2/tasks', schema: '/v2/schemas/tasks', ...(next ? { next } : {}) });
  });
  app.get<{ Params: { id: string } }>(`${V2}/tasks/:id`, async (req, reply) => send(reply, 200, taskView(await getTask(services, await auth(req), req.params.id))));
  app.get(`${V2}/schemas/task`, async (_req, reply) => send(reply, 200, schemaOfTask()));
  app.get(`${V2}/schemas/tasks`, async (_req, reply) => send(reply, 200, {
    name: 'tasks', properties: { tasks: { type: 'array', items: schemaOfTask() }, schema: { type: 'string' }, first: { type: 'string' }, next: { type: 'string' } },
    links: [{ rel: 'first', href: '{first}' }, { rel: 'next', href: '{next}' }, { rel: 'describedby', href: '{schema}' }],
  }));

}
