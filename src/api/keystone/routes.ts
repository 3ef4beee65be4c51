/**
 * Keystone v3, the subset clients use (openstackclient, openstacksdk, tempest, keystonemiddleware), at
 * `/identity/v3`. Accounts are users and projects; see services/identity/tokens.ts.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import {
  authenticate, DEFAULT_DOMAIN, findProject, listIdentities, revokeToken, validateToken,
  type AuthRequest, type Identity, type ProjectScope,
} from '../../services/identity/tokens.ts';
import { ENDPOINT_INTERFACES, openstackRegion } from '../../services/glance/region.ts';
import { headerValue } from '../http/headers.ts';
import { baseUrl, IDENTITY_PATH, IMAGE_PATH, openstackSurface, statusTitle } from '../http/openstack.ts';
import type { OsTokenRow } from '../../store/schema.ts';
import { jsonBytes } from '../http/json-bytes.ts';

const V3 = `${IDENTITY_PATH}/v3`;

export const keystoneSurface = openstackSurface('keystone', IDENTITY_PATH, (err) => ({
  error: { code: err.status, title: statusTitle(err.status), message: err.message },
}));

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const stableId = (kind: string, name: string) => crypto.createHash('md5').update(`${kind}:${name}`).digest('hex');
const ROLE = (name: string) => ({ id: stableId('role', name), name });

function versionDoc(req: FastifyRequest) {
  return {
    id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(req)}${V3}/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

function catalog(req: FastifyRequest, region: string) {
  const endpoints = (service: string, url: string) => ENDPOINT_INTERFACES.map((iface) => ({
    id: stableId('endpoint', `${service}:${iface}`), interface: iface, region, region_id: region, url,
  }));
  return [
    { id: stableId('service', 'image'), type: 'image', name: 'glance', endpoints: endpoints('image', `${baseUrl(req)}${IMAGE_PATH}`) },
    { id: stableId('service', 'identity'), type: 'identity', name: 'keystone', endpoints: endpoints('identity', `${baseUrl(req)}${V3}/`) },
  ];
}

export const rolesOf = (identity: Identity) => (identity.isAdmin ? ['admin', 'member', 'reader'] : ['member', 'reader']).map(ROLE);

function userView(identity: Identity) {
  return { id: identity.id, name: identity.name, domain: { ...DEFAULT_DOMAIN }, password_expires_at: null };
}

function projectView(req: FastifyRequest, p: Identity) {
  return {
    id: p.id, name: p.name, domain_id: DEFAULT_DOMAIN.id, enabled: true, is_domain: false, parent_id: DEFAULT_DOMAIN.id,
    description: '', tags: [], options: {}, links: { self: `${baseUrl(req)}${V3}/projects/${p.id}` },
  };
}

function tokenBody(req: FastifyRequest, services: Services, row: OsTokenRow, identity: Identity, withCatalog: boolean) {
  const token: Record<string, unknown> = {
    methods: row.methods.split(','),
    user: userView(identity),
    audit_ids: [row.audit_id],
    expires_at: iso(row.expires_at),
    issued_at: iso(row.issued_at),
    project: { id: identity.id, name: identity.name, domain: { ...DEFAULT_DOMAIN } },
    is_domain: false,
    roles: rolesOf(identity),
  };
  if (row.access_key_id) token.application_credential = { id: row.access_key_id, name: row.access_key_id, restricted: true };
  if (withCatalog) token.catalog = catalog(req, openstackRegion(services));
  return { token };
}

type Json = Record<string, any>;

function scopeOf(body: Json): ProjectScope | undefined {
  const p = body?.auth?.scope?.project;
  if (!p) return undefined;
  return { id: p.id, name: p.name, domain: p.domain };
}

function authRequest(body: Json): AuthRequest {
  const identity = body?.auth?.identity;
  const methods: unknown = identity?.methods;
  if (!Array.isArray(methods) || methods.length === 0) throw apiError('OpenStack.BadRequest', 'Expecting to find identity.methods in auth');
  if (methods.includes('password')) {
    const u = identity.password?.user;
    if (!u || typeof u.password !== 'string' || (typeof u.id !== 'string' && typeof u.name !== 'string')) throw apiError('OpenStack.BadRequest', 'Expecting to find user id or name and password');
    return { method: 'password', user: { id: u.id, name: u.name, domain: u.domain }, password: u.password, scope: scopeOf(body) };
  }
  if (methods.includes('application_credential')) {
    const c = identity.application_credential;
    if (typeof c?.id !== 'string' || typeof c?.secret !== 'string') throw apiError('OpenStack.BadRequest', 'Expecting to find application_credential id and secret');
    return { method: 'application_credential', id: c.id, secret: c.secret };
  }
  if (methods.includes('token')) {
    if (typeof identity.token?.id !== 'string') throw apiError('OpenStack.BadRequest', 'Expecting to find token id');
    return { method: 'token', token: identity.token.id, scope: scopeOf(body) };
  }
  throw apiError('OpenStack.Unauthorized');
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').header('vary', 'X-Auth-Token').send(jsonBytes(body));
}

export function registerKeystone(app: FastifyInstance, services: Services): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    if (body === '') return done(null, {});
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(apiError('OpenStack.BadRequest', 'The request body is not valid JSON.'), undefined);
    }
  });

  const caller = async (req: FastifyRequest) => {
    const t = await validateToken(services, headerValue(req.headers, 'x-auth-token'));
    if (!t) throw apiError('OpenStack.Unauthorized');
    return t;
  };
  const subject = async (req: FastifyRequest) => {
    const t = await validateToken(services, headerValue(req.headers, 'x-subject-token'));
    if (!t) throw apiError('OpenStack.NotFound', 'Could not find token.');
    return t;
  };
  const withCatalog = (req: FastifyRequest) => (req.query as Record<string, string>).nocatalog === undefined;

  app.get(IDENTITY_PATH, async (req, reply) => sendJson(reply, 300, { versions: { values: [versionDoc(req)] } }));
  app.get(`${IDENTITY_PATH}/`, async (req, reply) => sendJson(reply, 300, { versions: { values: [versionDoc(req)] } }));
  app.get(V3, async (req, reply) => sendJson(reply, 200, { version: versionDoc(req) }));
  app.get(`${V3}/`, async (req, reply) => sendJson(reply, 200, { version: versionDoc(req) }));

  app.post(`${V3}/auth/tokens`, async (req, reply) => {
    const issued = await authenticate(services, authRequest(req.body as Json));
    reply.header('x-subject-token', issued.token);
    return sendJson(reply, 201, tokenBody(req, services, issued.row, issued.identity, withCatalog(req)));
  });
  // HEAD is answered by this route too (fastify exposes HEAD for every GET).
  app.get(`${V3}/auth/tokens`, async (req, reply) => {
    await caller(req);
    const t = await subject(req);
    reply.header('x-subject-token', headerValue(req.headers, 'x-subject-token')!);
    return sendJson(reply, 200, tokenBody(req, services, t.row, t.identity, withCatalog(req)));
  });
  app.delete(`${V3}/auth/tokens`, async (req, reply) => {
    await caller(req);
    if (!(await revokeToken(services, headerValue(req.headers, 'x-subject-token') ?? ''))) throw apiError('OpenStack.NotFound', 'Could not find token.');
    return reply.code(204).send();
  });

  app.get(`${V3}/auth/catalog`, async (req, reply) => {
    await caller(req);
    return sendJson(reply, 200, { catalog: catalog(req, openstackRegion(services)), links: { self: `${baseUrl(req)}${req.url}`, next: null, previous: null } });
  });
  app.get(`${V3}/auth/projects`, async (req, reply) => {
    const t = await caller(req);
    return sendJson(reply, 200, { projects: [projectView(req, t.identity)], links: { self: `${baseUrl(req)}${req.url}`, next: null, previous: null } });
  });
  app.get(`${V3}/projects`, async (req, reply) => {
    const t = await caller(req);
    const name = (req.query as Record<string, string>).name;
    const all = t.identity.isAdmin ? await listIdentities(services, name) : [t.identity].filter((p) => name === undefined || p.name === name);
    return sendJson(reply, 200, { projects: all.map((p) => projectView(req, p)), links: { self: `${baseUrl(req)}${req.url}`, next: null, previous: null } });
  });
  app.get<{ Params: { id: string } }>(`${V3}/projects/:id`, async (req, reply) => {
    await caller(req);
    // Any authenticated project may resolve another's name to its id: image sharing needs it (`image add project`).
    const p = await findProject(services, req.params.id);
    if (!p) throw apiError('OpenStack.NotFound', `Could not find project: ${req.params.id}.`);
    return sendJson(reply, 200, { project: projectView(req, p) });
  });
  app.get<{ Params: { id: string } }>(`${V3}/users/:id`, async (req, reply) => {
    const t = await caller(req);
    if (req.params.id !== t.identity.id && !t.identity.isAdmin) throw apiError('OpenStack.Forbidden', 'You are not authorized to perform the requested action.');
    const u = await findProject(services, req.params.id);
    if (!u) throw apiError('OpenStack.NotFound', `Could not find user: ${req.params.id}.`);
    return sendJson(reply, 200, { user: { ...userView(u), domain_id: DEFAULT_DOMAIN.id, enabled: true, default_project_id: u.id, links: { self: `${baseUrl(req)}${V3}/users/${u.id}` } } });
  });
  app.get<{ Params: { id: string } }>(`${V3}/users/:id/projects`, async (req, reply) => {
    const t = await caller(req);
    const mine = req.params.id === t.identity.id;
    return sendJson(reply, 200, { projects: mine ? [projectView(req, t.identity)] : [], links: { self: `${baseUrl(req)}${req.url}`, next: null, previous: null } });
  });
  app.get(`${V3}/domains`, async (req, reply) => {
    await caller(req);
    return sendJson(reply, 200, { domains: [{ ...DEFAULT_DOMAIN, enabled: true, description: '', links: { self: `${baseUrl(req)}${V3}/domains/default` } }] });
  });
  app.get<{ Params: { id: string } }>(`${V3}/domains/:id`, async (req, reply) => {
    await caller(req);
    if (req.params.id !== DEFAULT_DOMAIN.id && req.params.id !== DEFAULT_DOMAIN.name) throw apiError('OpenStack.NotFound', `Could not find domain: ${req.params.id}.`);
    return sendJson(reply, 200, { domain: { ...DEFAULT_DOMAIN, enabled: true, description: '', links: { self: `${baseUrl(req)}${V3}/domains/default` } } });
  });
  app.get(`${V3}/roles`, async (req, reply) => {
    await caller(req);
    return sendJson(reply, 200, { roles: ['admin', 'member', 'reader'].map(ROLE) });
  });
}
