/** Glance metadefs routes (`/v2/metadefs/…`): a thin adapter over services/glance/metadefs.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import type { Identity } from '../../services/identity/tokens.ts';
import {
  addPart, createNamespace, deleteNamespace, listNamespaces, listPart, removePart, replaceTags, RESOURCE_TYPES, showNamespace, showPart, updateNamespace, updatePart,
  type Namespace, type Stamped,
} from '../../services/glance/metadefs.ts';
import { glanceTime as iso } from '../http/openstack.ts';

type Send = (reply: FastifyReply, status: number, body?: unknown) => FastifyReply;
type P = { Params: { ns: string; name: string } };

const stamped = (x: Stamped) => ({ ...x, created_at: iso(x.created_at), updated_at: iso(x.updated_at) });

function namespaceView(n: Namespace, full: boolean) {
  const base = {
    namespace: n.namespace, display_name: n.display_name, description: n.description, visibility: n.visibility, protected: n.protected, owner: n.owner,
    created_at: iso(n.created_at), updated_at: iso(n.updated_at), self: `/v2/metadefs/namespaces/${n.namespace}`, schema: '/v2/schemas/metadefs/namespace',
  };
  if (!full) return { ...base, resource_type_associations: n.resource_type_associations.map(stamped) };
  return {
    ...base, resource_type_associations: n.resource_type_associations.map(stamped), objects: n.objects.map(stamped), tags: n.tags.map(stamped),
    properties: Object.fromEntries(n.properties.map((p) => [p.name, stamped(p)])),
  };
}

function objectBody(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b) || (b as { unsupported?: boolean }).unsupported) throw apiError('OpenStack.BadRequest', 'The request body must be a JSON object.');
  return b as Record<string, unknown>;
}

export function registerGlanceMetadefs(app: FastifyInstance, services: Services, V2: string, auth: (req: FastifyRequest) => Promise<Identity>, send: Send): void {
  const NS = `${V2}/metadefs/namespaces`;
  app.get(`${V2}/metadefs/resource_types`, async (req, reply) => {
    await auth(req);
    const epoch = iso(0);
    return send(reply, 200, { resource_types: RESOURCE_TYPES.map((name) => ({ name, created_at: epoch, updated_at: epoch })) });
  });

  app.get(NS, async (req, reply) => {
    const all = await listNamespaces(services, await auth(req));
    return send(reply, 200, { namespaces: all.map((n) => namespaceView(n, false)), first: '/v2/metadefs/namespaces', schema: '/v2/schemas/metadefs/namespaces' });
  });
  app.post(NS, async (req, reply) => send(reply, 201, namespaceView(await createNamespace(services, await auth(req), objectBody(req)), true)));
  app.get<P>(`${NS}/:ns`, async (req, reply) => send(reply, 200, namespaceView(await showNamespace(services, await auth(req), req.params.ns), true)));
  app.put<P>(`${NS}/:ns`, async (req, reply) => send(reply, 200, namespaceView(await updateNamespace(services, await auth(req), req.params.ns, objectBody(req)), true)));
  app.delete<P>(`${NS}/:ns`, async (req, reply) => {
    await deleteNamespace(services, await auth(req), req.params.ns);
    return send(reply, 204);
  });

  // objects, properties and resource type associations: the same list/add/show/update/delete.
  const parts = [
    { path: 'objects', part: 'objects', wrap: (xs: Stamped[]) => ({ objects: xs.map(stamped), schema: '/v2/schemas/metadefs/objects' }) },
    { path: 'properties', part: 'properties', wrap: (xs: Stamped[]) => ({ properties: Object.fromEntries(xs.map((p) => [p.name, stamped(p)])) }) },
    { path: 'resource_types', part: 'resource_type_associations', wrap: (xs: Stamped[]) => ({ resource_type_associations: xs.map(stamped) }) },
  ] as const;
  for (const { path, part, wrap } of parts) {
    app.get<P>(`${NS}/:ns/${path}`, async (req, reply) => send(reply, 200, wrap(await listPart(services, await auth(req), req.params.ns, part))));
    app.post<P>(`${NS}/:ns/${path}`, async (req, reply) => send(reply, 201, stamped(await addPart(services, await auth(req), req.params.ns, part, objectBody(req)))));
    app.get<P>(`${NS}/:ns/${path}/:name`, async (req, reply) => send(reply, 200, stamped(await showPart(services, await auth(req), req.params.ns, part, req.params.name))));
    app.put<P>(`${NS}/:ns/${path}/:name`, async (req, reply) => send(reply, 200, stamped(await updatePart(services, await auth(req), req.params.ns, part, req.params.name, objectBody(req)))));
    app.delete<P>(`${NS}/:ns/${path}/:name`, async (req, reply) => {
      await removePart(services, await auth(req), req.params.ns, part, req.params.name);
      return send(reply, 204);
    });
  }

  // tags: POST …/tags replaces them all; POST …/tags/{name} adds one with no body.
  app.get<P>(`${NS}/:ns/tags`, async (req, reply) => send(reply, 200, { tags: (await listPart(services, await auth(req), req.params.ns, 'tags')).map(stamped) }));
  app.post<P>(`${NS}/:ns/tags`, async (req, reply) => {
    const tags = await replaceTags(services, await auth(req), req.params.ns, objectBody(req).tags);
    return send(reply, 201, { tags: tags.map(stamped) });
  });
  app.delete<P>(`${NS}/:ns/tags`, async (req, reply) => {
    await replaceTags(services, await auth(req), req.params.ns, []);
    return send(reply, 204);
  });
  app.post<P>(`${NS}/:ns/tags/:name`, async (req, reply) => send(reply, 201, stamped(await addPart(services, await auth(req), req.params.ns, 'tags', { name: req.params.name }))));
  app.get<P>(`${NS}/:ns/tags/:name`, async (req, reply) => send(reply, 200, stamped(await showPart(services, await auth(req), req.params.ns, 'tags', req.params.name))));
  app.put<P>(`${NS}/:ns/tags/:name`, async (req, reply) => send(reply, 200, stamped(await updatePart(services, await auth(req), req.params.ns, 'tags', req.params.name, objectBody(req)))));
  app.delete<P>(`${NS}/:ns/tags/:name`, async (req, reply) => {
    await removePart(services, await auth(req), req.params.ns, 'tags', req.params.name);
    return send(reply, 204);
  });
}
