/**
 * Glance v2 at `/image` (the catalog's image endpoint): a thin adapter over services/glance. Errors are
 * webob-style JSON `{"message","code","title"}`; 401s carry `WWW-Authenticate` naming Keystone.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import { validateToken, type Identity } from '../../services/identity/tokens.ts';
import {
  addTag, createImage, deleteImage, getImage, patchImage, removeTag, setActive, type GlanceImage, type PatchOp,
} from '../../services/glance/images.ts';
import { listImages, MAX_LIST_LIMIT } from '../../services/glance/list.ts';
import { locationsOf } from '../../services/glance/locations.ts';
import { downloadFile } from '../../services/glance/data.ts';
import { IMPORT_METHODS, stageFile, startImport, STORE_ID, uploadFile } from '../../services/glance/import.ts';
import { imageTasks } from '../../services/glance/tasks.ts';
import { registerGlanceTasks, taskView } from './tasks.ts';
import { registerGlanceCache } from './cache.ts';
import { addMember, getMember, listMembers, removeMember, updateMember, type Member } from '../../services/glance/members.ts';
import { queryPairs } from '../http/query.ts';
import { registerGlanceMetadefs } from './metadefs.ts';
import { requestedRange } from './download-range.ts';
import { sendWritten } from '../http/written-body.ts';
import { whenAnswered } from '../http/answered.ts';
import { contentRange } from '../http/byte-range.ts';
import { headerValue } from '../http/headers.ts';
import { baseUrl, glanceTime as iso, IMAGE_PATH, openstackSurface, pageLinks, statusTitle } from '../http/openstack.ts';
import { GLANCE_SCHEMAS } from '../http/glance-schemas.ts';
import { jsonBytes } from '../http/json-bytes.ts';

const V2 = `${IMAGE_PATH}/v2`;
const PATCH_TYPES = ['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch'];

export const glanceSurface = openstackSurface('glance', IMAGE_PATH, (err) => {
  const title = statusTitle(err.status);
  return { message: err.message, code: `${err.status} ${title}`, title };
});


export function imageView(img: GlanceImage): Record<string, unknown> {
  return {
    ...img.properties,
    id: img.id, name: img.name, status: img.status, visibility: img.visibility, protected: img.protected, os_hidden: img.os_hidden,
    checksum: img.checksum, os_hash_algo: img.os_hash_algo, os_hash_value: img.os_hash_value, size: img.size, virtual_size: img.virtual_size,
    min_disk: img.min_disk, min_ram: img.min_ram, disk_format: img.disk_format, container_format: img.container_format, owner: img.owner,
    tags: img.tags, created_at: iso(img.created_at), updated_at: iso(img.updated_at),
    ...(img.stored ? { stores: STORE_ID } : {}), locations: locationsOf({ ...img, external: img.externalLocations }),
    self: `/v2/images/${img.id}`, file: `/v2/images/${img.id}/file`, schema: '/v2/schemas/image',
  };
}

const memberView = (m: Member) => ({ ...m, created_at: iso(m.created_at), updated_at: iso(m.updated_at), schema: '/v2/schemas/member' });

function versions(req: FastifyRequest) {
  const ids = ['2.15', '2.9', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];
  return { versions: ids.map((v, i) => ({ id: `v${v}`, status: i === 0 ? 'CURRENT' : 'SUPPORTED', links: [{ rel: 'self', href: `${baseUrl(req)}${IMAGE_PATH}/v2/` }] })) };
}

function send(reply: FastifyReply, status: number, body?: unknown): FastifyReply {
  if (body === undefined) return reply.code(status).send();
  return reply.code(status).header('content-type', 'application/json; charset=UTF-8').send(jsonBytes(body));
}

export function registerGlance(app: FastifyInstance, services: Services): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  const json = (_req: unknown, body: string | Buffer, done: (e: Error | null, v?: unknown) => void) => {
    if (body === '' || body.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body.toString()));
    } catch {
      done(apiError('OpenStack.BadRequest', 'Malformed JSON in request body.'));
    }
  };
  app.addContentTypeParser(['application/json', ...PATCH_TYPES], { parseAs: 'string', bodyLimit: 1 << 20 }, json);
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, { unsupported: true, body }));

  const auth = async (req: FastifyRequest): Promise<Identity> => {
    const t = await validateToken(services, headerValue(req.headers, 'x-auth-token'));
    if (!t) throw apiError('OpenStack.Unauthorized');
    return t.identity;
  };
  type P = { Params: { id: string; tag: string; member: string; name: string } };

  app.get(IMAGE_PATH, async (req, reply) => send(reply, 300, versions(req)));
  app.get(`${IMAGE_PATH}/`, async (req, reply) => send(reply, 300, versions(req)));
  app.get(`${IMAGE_PATH}/versions`, async (req, reply) => send(reply, 200, versions(req)));

  app.post(`${V2}/images`, async (req, reply) => {
    const viewer = await auth(req);
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body) || (body as { unsupported?: boolean }).unsupported) throw apiError('OpenStack.BadRequest', 'The request body must be a JSON object.');
    const img = await createImage(services, viewer, body);
    reply.header('location', `${baseUrl(req)}${V2}/images/${img.id}`);
    reply.header('openstack-image-import-methods', IMPORT_METHODS.join(','));
    return send(reply, 201, imageView(img));
  });

  app.get(`${V2}/images`, async (req, reply) => {
    const viewer = await auth(req);
    const pairs = queryPairs(req.raw.url);
    const filters: Record<string, string> = {};
    const tags: string[] = [];
    let limit = 25;
    let marker: string | undefined;
    let sortKeys: string[] = [];
    let sortDirs: string[] = [];
    let sort: { key: string; dir: 'asc' | 'desc' }[] = [];
    for (const [k, v] of pairs) {
      if (k === 'limit') {
        limit = Number(v);
        if (!Number.isInteger(limit) || limit < 0) throw apiError('OpenStack.BadRequest', 'limit param must be a non-negative integer');
      } else if (k === 'marker') marker = v;
      else if (k === 'tag') tags.push(v);
      else if (k === 'sort_key') sortKeys.push(...v.split(','));
      else if (k === 'sort_dir') sortDirs.push(...v.split(','));
      else if (k === 'sort') {
        sort = v.split(',').map((part) => {
          const [key, dir = 'desc'] = part.split(':');
          if (dir !== 'asc' && dir !== 'desc') throw apiError('OpenStack.BadRequest', `Invalid sort direction: ${dir}`);
          return { key, dir };
        });
      } else filters[k] = v;
    }
    for (const d of sortDirs) if (d !== 'asc' && d !== 'desc') throw apiError('OpenStack.BadRequest', `Invalid sort direction: ${d}`);
    if (sortKeys.length) sort = sortKeys.map((key, i) => ({ key, dir: (sortDirs[i] ?? sortDirs[0] ?? 'desc') as 'asc' | 'desc' }));
    const images = await listImages(services, viewer, { filters, tags, sort, limit: Math.min(limit, MAX_LIST_LIMIT), marker });
    const { first, next } = pageLinks('/v2/images', pairs, images, Math.min(limit, MAX_LIST_LIMIT));
    return send(reply, 200, { images: images.map(imageView), first, schema: '/v2/schemas/images', ...(next ? { next } : {}) });
  });

  app.get<P>(`${V2}/images/:id`, async (req, reply) => send(reply, 200, imageView(await getImage(services, await auth(req), req.params.id))));

  app.patch<P>(`${V2}/images/:id`, async (req, reply) => {
    const viewer = await auth(req);
    const type = (headerValue(req.headers, 'content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
    if (!PATCH_TYPES.includes(type)) {
      reply.header('accept-patch', PATCH_TYPES.join(', '));
      throw apiError('OpenStack.UnsupportedMediaType', `Unsupported Content-Type: ${type || '(none)'}`);
    }
    if (!Array.isArray(req.body)) throw apiError('OpenStack.BadRequest', 'Request body must be a JSON array of operation objects.');
    return send(reply, 200, imageView(await patchImage(services, viewer, req.params.id, req.body as PatchOp[])));
  });

  app.delete<P>(`${V2}/images/:id`, async (req, reply) => {
    await deleteImage(services, await auth(req), req.params.id);
    return send(reply, 204);
  });

  const octetStream = (req: FastifyRequest): Readable => {
    const type = (headerValue(req.headers, 'content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
    if (type !== 'application/octet-stream') throw apiError('OpenStack.UnsupportedMediaType', `Unsupported Content-Type: ${type || '(none)'}`);
    return req.body as Readable;
  };
  app.put<P>(`${V2}/images/:id/file`, async (req, reply) => {
    const viewer = await auth(req);
    await uploadFile(services, viewer, req.params.id, octetStream(req));
    return send(reply, 204);
  });
  app.put<P>(`${V2}/images/:id/stage`, async (req, reply) => {
    const viewer = await auth(req);
    await stageFile(services, viewer, req.params.id, octetStream(req));
    return send(reply, 204);
  });
  app.post<P>(`${V2}/images/:id/import`, async (req, reply) => {
    const viewer = await auth(req);
    await startImport(services, viewer, req.params.id, req.body);
    return send(reply, 202);
  });
  app.get<P>(`${V2}/images/:id/tasks`, async (req, reply) => {
    const tasks = await imageTasks(services, await auth(req), req.params.id);
    return send(reply, 200, { tasks: tasks.map(taskView) });
  });

  app.get<P>(`${V2}/images/:id/file`, async (req, reply) => {
    const out = await downloadFile(services, await auth(req), req.params.id, (size) => requestedRange(req.headers, size));
    if (!out) return send(reply, 204);
    whenAnswered(reply, out.release);
    const { size, range } = out;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    const length = range ? range.end - range.start : size;
    if (length !== undefined) headers['content-length'] = String(length);
    if (range) headers['content-range'] = contentRange(range, size!);
    // Glance sends the whole image's checksum with a part of it too.
    if (out.md5) headers['content-md5'] = out.md5;
    const status = range ? 206 : 200;
    if (out.writeTo) return sendWritten(req, reply, status, headers, out.writeTo);
    return reply.code(status).headers(headers).send(out.stream);
  });

  app.post<P>(`${V2}/images/:id/actions/deactivate`, async (req, reply) => {
    await setActive(services, await auth(req), req.params.id, false);
    return send(reply, 204);
  });
  app.post<P>(`${V2}/images/:id/actions/reactivate`, async (req, reply) => {
    await setActive(services, await auth(req), req.params.id, true);
    return send(reply, 204);
  });

  app.put<P>(`${V2}/images/:id/tags/:tag`, async (req, reply) => {
    await addTag(services, await auth(req), req.params.id, req.params.tag);
    return send(reply, 204);
  });
  app.delete<P>(`${V2}/images/:id/tags/:tag`, async (req, reply) => {
    await removeTag(services, await auth(req), req.params.id, req.params.tag);
    return send(reply, 204);
  });

  app.get<P>(`${V2}/images/:id/members`, async (req, reply) => {
    const members = await listMembers(services, await auth(req), req.params.id);
    return send(reply, 200, { members: members.map(memberView), schema: '/v2/schemas/members' });
  });
  app.post<P>(`${V2}/images/:id/members`, async (req, reply) => {
    const viewer = await auth(req);
    return send(reply, 200, memberView(await addMember(services, viewer, req.params.id, (req.body as { member?: unknown } | undefined)?.member)));
  });
  app.get<P>(`${V2}/images/:id/members/:member`, async (req, reply) => send(reply, 200, memberView(await getMember(services, await auth(req), req.params.id, req.params.member))));
  app.put<P>(`${V2}/images/:id/members/:member`, async (req, reply) => {
    const viewer = await auth(req);
    return send(reply, 200, memberView(await updateMember(services, viewer, req.params.id, req.params.member, (req.body as { status?: unknown } | undefined)?.status)));
  });
  app.delete<P>(`${V2}/images/:id/members/:member`, async (req, reply) => {
    await removeMember(services, await auth(req), req.params.id, req.params.member);
    return send(reply, 204);
  });

  registerGlanceTasks(app, services, V2, auth, send);
  registerGlanceCache(app, services, V2, auth, send);
  registerGlanceMetadefs(app, services, V2, auth, send);

  app.get(`${V2}/info/import`, async (req, reply) => {
    await auth(req);
    return send(reply, 200, { 'import-methods': { description: 'Import methods available.', type: 'array', value: IMPORT_METHODS } });
  });
  app.get(`${V2}/info/stores`, async (req, reply) => {
    await auth(req);
    return send(reply, 200, { stores: [{ id: STORE_ID, description: 'imagehouse chunk store', default: true }] });
  });
  for (const [name, schema] of Object.entries(GLANCE_SCHEMAS)) app.get(`${V2}/schemas/${name}`, async (_req, reply) => send(reply, 200, schema()));
  // The metadefs schemas by name (a metadata catalog is not implemented; clients read the names and properties).
  const METADEF_SCHEMAS: Record<string, string> = {
    namespace: 'namespace', namespaces: 'namespaces', resource_type: 'resource_type_association', resource_types: 'resource_type_associations',
    object: 'object', objects: 'objects', property: 'property', properties: 'properties', tag: 'tag', tags: 'tags',
  };
  app.get<P>(`${V2}/schemas/metadefs/:name`, async (req, reply) => {
    const name = METADEF_SCHEMAS[req.params.name];
    if (!name) throw apiError('OpenStack.NotFound', `Schema ${req.params.name} not found`);
    return send(reply, 200, { name, properties: {}, links: [{ rel: 'describedby', href: '{schema}' }] });
  });
}
