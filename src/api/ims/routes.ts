/**
 * Huawei Cloud IMS at `/v1`, `/v2`, `/v2.1` (the SDK's paths at the service root): a thin adapter over the
 * Glance and ECS use cases. IMS's own writes answer `{"job_id"}` and finish in a durable job; the SDK's Glance*
 * operations answer as Glance does, in IMS's image view. Errors are Huawei's
 * `{"error":{"code","message"}}`, or the API gateway's `{"error_code","error_msg"}` for authentication.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import type { Identity } from '../../services/identity/tokens.ts';
import { addTag, createImage, deleteImage, getImage, patchImage, removeTag, type PatchOp } from '../../services/glance/images.ts';
import { importFromBucket } from '../../services/glance/import.ts';
import { addMember, getMember, listMembers, removeMember, updateMember } from '../../services/glance/members.ts';
import { listCloudImages } from '../../services/ims/list.ts';
import { copyCloudImage, createCloudImage, exportCloudImage, IMS_FAMILY, imageFromFile, imageFromInstance, parseBucketUrl } from '../../services/ims/images.ts';
import { parseMemberBatch, startMemberBatch } from '../../services/ims/members.ts';
import { findImsJob } from '../../services/ims/jobs.ts';
import { imageQuota, osVersions } from '../../services/ims/info.ts';
import { deleteImageTags, imageTags, imagesByTags, parseTagQuery, projectImageTags, putImageTags } from '../../services/ims/tags.ts';
import type { Surface } from '../http/surfaces.ts';
import { queryPairs } from '../http/query.ts';
import { GLANCE_SCHEMAS } from '../http/glance-schemas.ts';
import { pageLinks } from '../http/openstack.ts';
import { authenticateIms } from './auth.ts';
import { imsImageView, imsJobView, imsMemberView } from './views.ts';
import { jsonBytes } from '../http/json-bytes.ts';

export const imsSurface: Surface = {
  name: 'ims',
  prefixes: ['/v1', '/v2', '/v2.1'],
  notFound: (req) => apiError('OpenStack.NotFound', `The resource could not be found: ${req.method} ${req.url.split('?', 1)[0]}`),
  sendError(err, req, reply) {
    const body = err.code.startsWith('APIGW.')
      ? { error_code: err.code, error_msg: err.message, request_id: req.id }
      : { error: { code: err.code, message: err.message } };
    return reply.code(err.status).header('x-request-id', req.id).header('content-type', 'application/json').send(JSON.stringify(body));
  },
};

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json;charset=UTF-8').send(jsonBytes(body));
}

type Req = FastifyRequest<{ Params: Record<string, string> }>;

export function registerIms(app: FastifyInstance, services: Services): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, body));

  /** The caller (the signature covers the raw body) and the JSON body. */
  const call = async (req: Req): Promise<{ viewer: Identity; body: unknown }> => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const viewer = await authenticateIms(services, req, raw, req.params.project_id);
    if (raw.length === 0) return { viewer, body: undefined };
    try {
      return { viewer, body: JSON.parse(raw.toString('utf8')) };
    } catch {
      throw apiError('OpenStack.BadRequest', 'The request body is not valid JSON.');
    }
  };
  const objectBody = (body: unknown): Record<string, unknown> => {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw apiError('OpenStack.BadRequest', 'The request body must be a JSON object.');
    return body as Record<string, unknown>;
  };
  const job = (reply: FastifyReply, jobId: string) => send(reply, 200, { job_id: jobId });

  /** The filters, paging and sort of a listing (GET /v2/cloudimages, and GET /v2/images at this endpoint). */
  const listing = async (req: Req, viewer: Identity, defaultLimit: number) => {
    const filters: Record<string, string> = {};
    for (const [k, v] of queryPairs(req.raw.url)) {
      if (k in filters) throw apiError('OpenStack.BadRequest', `The parameter ${k} appears more than once.`);
      filters[k] = v;
    }
    const { limit: rawLimit, marker, sort_key: sortKey, sort_dir: sortDir, ...rest } = filters;
    const limit = rawLimit === undefined ? defaultLimit : Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 0) throw apiError('OpenStack.BadRequest', 'limit must be a non-negative integer');
    if (sortDir !== undefined && sortDir !== 'asc' && sortDir !== 'desc') throw apiError('OpenStack.BadRequest', `Invalid sort_dir: ${sortDir}`);
    const sort = sortKey === undefined ? [] : sortKey.split(',').map((key) => ({ key, dir: (sortDir ?? 'desc') as 'asc' | 'desc' }));
    return { images: await listCloudImages(services, viewer, { filters: rest, limit, marker, sort }), limit, filters };
  };

  app.get('/v2/cloudimages', async (req: Req, reply) => {
    const { viewer } = await call(req);
    const { images } = await listing(req, viewer, 500);
    return send(reply, 200, { images: images.map((i) => imsImageView(i, viewer)) });
  });

  app.patch('/v2/cloudimages/:id', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    if (!Array.isArray(body)) throw apiError('OpenStack.BadRequest', 'The request body must be a JSON list of {op, path, value}.');
    return send(reply, 200, imsImageView(await patchImage(services, viewer, req.params.id, body as PatchOp[]), viewer));
  });

  for (const v of ['/v2', '/v2.1']) {
    app.post(`${v}/cloudimages/action`, async (req: Req, reply) => {
      const { viewer, body } = await call(req);
      return job(reply, (await createCloudImage(services, viewer, objectBody(body))).jobId);
    });
    app.post(`${v}/cloudimages/quickimport/action`, async (req: Req, reply) => {
      const { viewer, body } = await call(req);
      const b = objectBody(body);
      const started = await imageFromFile(services, viewer, {
        imageUrl: String(b.image_url ?? ''), name: b.name as string | undefined, description: b.description as string | undefined, osVersion: b.os_version as string | undefined,
        minDisk: b.min_disk as number | undefined, kind: b.type === 'DataImage' ? 'data' : 'system', format: 'raw',
      });
      return job(reply, started.jobId);
    });
  }
  for (const v of ['/v1', '/v2.1']) {
    app.post(`${v}/cloudimages/dataimages/action`, async (req: Req, reply) => {
      const { viewer, body } = await call(req);
      const b = objectBody(body);
      return job(reply, (await imageFromFile(services, viewer, {
        imageUrl: String(b.image_url ?? ''), name: b.name as string | undefined, description: b.description as string | undefined, minDisk: b.min_disk as number | undefined, kind: 'data',
      })).jobId);
    });
  }
  app.post('/v1/cloudimages/wholeimages/action', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    const b = objectBody(body);
    if (b.backup_id !== undefined) throw apiError('OpenStack.BadRequest', 'Full-ECS images from a backup need a backup service, which this region does not have; give instance_id.');
    if (typeof b.instance_id !== 'string') throw apiError('OpenStack.BadRequest', 'instance_id is required');
    return job(reply, (await imageFromInstance(services, viewer, { instanceId: b.instance_id, name: b.name as string | undefined, description: b.description as string | undefined, kind: 'whole' })).jobId);
  });

  app.post('/v1/cloudimages/:id/copy', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    return job(reply, (await copyCloudImage(services, viewer, req.params.id, objectBody(body), false)).jobId);
  });
  app.post('/v1/cloudimages/:id/cross_region_copy', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    return job(reply, (await copyCloudImage(services, viewer, req.params.id, objectBody(body), true)).jobId);
  });
  app.post('/v1/cloudimages/:id/file', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    return job(reply, (await exportCloudImage(services, viewer, req.params.id, objectBody(body))).jobId);
  });

  for (const method of ['POST', 'PUT', 'DELETE'] as const) {
    app.route({
      method, url: '/v1/cloudimages/members',
      handler: async (req: Req, reply) => {
        const { viewer, body } = await call(req);
        return job(reply, await startMemberBatch(services, viewer, parseMemberBatch(method, objectBody(body))));
      },
    });
  }
  app.get('/v1/:project_id/cloudimages/:id/members', async (req: Req, reply) => {
    const { viewer } = await call(req);
    const members = await listMembers(services, viewer, req.params.id);
    return send(reply, 200, { members: members.map(imsMemberView), schema: '/v2/schemas/members' });
  });
  app.get('/v1/:project_id/cloudimages/:id/members/:member', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, imsMemberView(await getMember(services, viewer, req.params.id, req.params.member)));
  });

  // The SDK's Glance* operations at the IMS endpoint, signed with AK/SK: adapters over the Glance use cases, the
  // images in IMS's view; images made here are IMS-family.
  app.post('/v2/images', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    return send(reply, 201, imsImageView(await createImage(services, viewer, objectBody(body), { shareFamily: IMS_FAMILY }), viewer));
  });
  app.get('/v2/images', async (req: Req, reply) => {
    const { viewer } = await call(req);
    const { images, limit, filters } = await listing(req, viewer, 25);
    const { first, next } = pageLinks('/v2/images', Object.entries(filters), images, limit);
    return send(reply, 200, { images: images.map((i) => imsImageView(i, viewer)), first, schema: '/v2/schemas/images', ...(next ? { next } : {}) });
  });
  app.get('/v2/images/:id', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, imsImageView(await getImage(services, viewer, req.params.id), viewer));
  });
  app.patch('/v2/images/:id', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    if (!Array.isArray(body)) throw apiError('OpenStack.BadRequest', 'The request body must be a JSON list of {op, path, value}.');
    return send(reply, 200, imsImageView(await patchImage(services, viewer, req.params.id, body as PatchOp[]), viewer));
  });
  app.delete('/v2/images/:id', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    if (body !== undefined && objectBody(body).delete_backup === true) throw apiError('OpenStack.BadRequest', 'delete_backup needs a backup service, which this region does not have.');
    await deleteImage(services, viewer, req.params.id);
    return reply.code(204).send();
  });
  app.put('/v2/images/:id/tags/:tag', async (req: Req, reply) => {
    const { viewer } = await call(req);
    await addTag(services, viewer, req.params.id, req.params.tag);
    return reply.code(204).send();
  });
  app.delete('/v2/images/:id/tags/:tag', async (req: Req, reply) => {
    const { viewer } = await call(req);
    await removeTag(services, viewer, req.params.id, req.params.tag);
    return reply.code(204).send();
  });
  for (const [name, schema] of Object.entries(GLANCE_SCHEMAS)) {
    app.get(`/v2/schemas/${name}`, async (req: Req, reply) => {
      await call(req);
      return send(reply, 200, schema());
    });
  }

  // UploadImage (the SDK's RegisterImage): a bucket file into an image made by POST /v2/images, as a job.
  app.put('/v1/cloudimages/:id/upload', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    const url = objectBody(body).image_url;
    if (typeof url !== 'string') throw apiError('OpenStack.BadRequest', 'image_url is required');
    const { bucket, object } = parseBucketUrl(url, 'image_url');
    return job(reply, await importFromBucket(services, viewer, req.params.id, bucket, object));
  });

  // Glance's member routes, as IMS serves them at its own endpoint (the SDK's Glance*ImageMember operations).
  app.get('/v2/images/:id/members', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, { members: (await listMembers(services, viewer, req.params.id)).map(imsMemberView), schema: '/v2/schemas/members' });
  });
  app.post('/v2/images/:id/members', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    return send(reply, 200, imsMemberView(await addMember(services, viewer, req.params.id, objectBody(body).member)));
  });
  app.get('/v2/images/:id/members/:member', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, imsMemberView(await getMember(services, viewer, req.params.id, req.params.member)));
  });
  app.put('/v2/images/:id/members/:member', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    return send(reply, 200, imsMemberView(await updateMember(services, viewer, req.params.id, req.params.member, objectBody(body).status)));
  });
  app.delete('/v2/images/:id/members/:member', async (req: Req, reply) => {
    const { viewer } = await call(req);
    await removeMember(services, viewer, req.params.id, req.params.member);
    return reply.code(204).send();
  });

  const showJob = async (req: Req, reply: FastifyReply) => {
    const { viewer } = await call(req);
    return send(reply, 200, imsJobView(await findImsJob(services, viewer, req.params.job_id)));
  };
  app.get('/v1/:project_id/jobs/:job_id', showJob);
  app.get('/v1/cloudimages/job/:job_id', showJob);

  const quota = async (req: Req, reply: FastifyReply) => {
    const { viewer } = await call(req);
    return send(reply, 200, { quotas: { resources: [await imageQuota(services, viewer)] } });
  };
  app.get('/v1/cloudimages/quota', quota);
  app.get('/v1/:project_id/cloudimages/quota', quota);
  app.get('/v1/cloudimages/os_version', async (req: Req, reply) => {
    await call(req);
    return send(reply, 200, osVersions());
  });
  // TMS-style tags.
  const tagList = (v: unknown, key: string): { key?: unknown; value?: unknown }[] => {
    if (!Array.isArray(v) || v.some((t) => !t || typeof t !== 'object')) throw apiError('OpenStack.BadRequest', `${key} must be a list of {key, value}`);
    return v as { key?: unknown; value?: unknown }[];
  };
  app.get('/v2/:project_id/images/tags', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, { tags: await projectImageTags(services, viewer) });
  });
  app.post('/v2/:project_id/images/resource_instances/action', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    const q = parseTagQuery(objectBody(body));
    const found = await imagesByTags(services, viewer, q);
    return send(reply, 200, q.action === 'count' ? { total_count: found.total } : { resources: found.resources, total_count: found.total });
  });
  app.get('/v2/:project_id/images/:id/tags', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, { tags: await imageTags(services, viewer, req.params.id) });
  });
  app.post('/v2/:project_id/images/:id/tags', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    await putImageTags(services, viewer, req.params.id, tagList([objectBody(body).tag], 'tag'));
    return reply.code(204).send();
  });
  app.post('/v2/:project_id/images/:id/tags/action', async (req: Req, reply) => {
    const { viewer, body } = await call(req);
    const b = objectBody(body);
    const tags = tagList(b.tags, 'tags');
    if (b.action === 'create') await putImageTags(services, viewer, req.params.id, tags);
    else if (b.action === 'delete') await deleteImageTags(services, viewer, req.params.id, tags.map((t) => String(t.key ?? '')));
    else throw apiError('OpenStack.BadRequest', 'action must be create or delete');
    return reply.code(204).send();
  });
  app.delete('/v2/:project_id/images/:id/tags/:key', async (req: Req, reply) => {
    const { viewer } = await call(req);
    await deleteImageTags(services, viewer, req.params.id, [req.params.key]);
    return reply.code(204).send();
  });

  app.get('/v2/cloudimages/:id', async (req: Req, reply) => {
    const { viewer } = await call(req);
    return send(reply, 200, imsImageView(await getImage(services, viewer, req.params.id), viewer));
  });
}
