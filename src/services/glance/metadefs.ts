/**
 * Glance metadata definitions: namespaces with their objects, properties, tags and resource-type
 * associations. Reading needs a token (private namespaces only for their owner or an admin); changing them
 * is for admins, as in Glance's default policy. A protected namespace cannot be deleted.
 */
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';

/** The resource types Glance ships (`/v2/metadefs/resource_types`). */
export const RESOURCE_TYPES = ['OS::Glance::Image', 'OS::Cinder::Volume', 'OS::Nova::Flavor', 'OS::Nova::Server', 'OS::Nova::Aggregate', 'OS::Glance::Metadef', 'OS::Trove::Instance'];

export interface Stamped {
  name: string;
  created_at: number;
  updated_at: number;
  [k: string]: unknown;
}

export interface NamespaceDoc {
  display_name: string;
  description: string;
  visibility: 'public' | 'private';
  protected: boolean;
  resource_type_associations: Stamped[];
  objects: Stamped[];
  properties: Stamped[];
  tags: Stamped[];
}

export interface Namespace extends NamespaceDoc {
  namespace: string;
  owner: string;
  created_at: number;
  updated_at: number;
}

type Part = 'objects' | 'properties' | 'tags' | 'resource_type_associations';

const notFound = (what: string) => apiError('OpenStack.NotFound', `Metadata definition ${what} not found`);
const badRequest = (msg: string) => apiError('OpenStack.BadRequest', msg);

function adminOnly(viewer: Identity): void {
  if (!viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'Only administrators may change metadata definitions.');
}

function nameOf(body: Record<string, unknown>, key = 'name'): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '' || v.length > 80) throw badRequest(`${key} must be a string of 1 to 80 characters`);
  return v;
}

/** The namespace's own fields from a create/update body. */
function fieldsOf(body: Record<string, unknown>, prior?: NamespaceDoc): Pick<NamespaceDoc, 'display_name' | 'description' | 'visibility' | 'protected'> {
  const visibility = body.visibility ?? prior?.visibility ?? 'private';
  if (visibility !== 'public' && visibility !== 'private') throw badRequest('visibility must be public or private');
  const prot = body.protected ?? prior?.protected ?? false;
  if (typeof prot !== 'boolean') throw badRequest('protected must be a boolean');
  const text = (k: 'display_name' | 'description') => {
    const v = body[k] ?? prior?.[k] ?? '';
    if (typeof v !== 'string') throw badRequest(`${k} must be a string`);
    return v;
  };
  return { display_name: text('display_name'), description: text('description'), visibility, protected: prot };
}

function visible(viewer: Identity, ns: { owner: string; document: NamespaceDoc }): boolean {
  return viewer.isAdmin || ns.owner === viewer.id || ns.document.visibility === 'public';
}

async function load(services: Pick<Services, 'db'>, viewer: Identity, namespace: string): Promise<Namespace> {
  const row = await services.db.selectFrom('glance_metadef_namespaces').selectAll().where('namespace', '=', namespace).executeTakeFirst();
  const document = row ? (JSON.parse(row.document) as NamespaceDoc) : undefined;
  if (!row || !document || !visible(viewer, { owner: row.owner, document })) throw notFound(`namespace ${namespace}`);
  return { ...document, namespace: row.namespace, owner: row.owner, created_at: Number(row.created_at), updated_at: Number(row.updated_at) };
}

/** Changes one namespace in a transaction: `change` edits the document (or says to delete it) and returns the answer. */
async function change<T>(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string, edit: (doc: NamespaceDoc, now: number) => T | { deleted: true }): Promise<T> {
  adminOnly(viewer);
  return services.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('glance_metadef_namespaces').selectAll().where('namespace', '=', namespace)
      .$if(services.dialect === 'postgres', (q) => q.forUpdate()).executeTakeFirst();
    if (!row) throw notFound(`namespace ${namespace}`);
    const doc = JSON.parse(row.document) as NamespaceDoc;
    const now = services.clock.now();
    const out = edit(doc, now);
    if (out && typeof out === 'object' && (out as { deleted?: true }).deleted) {
      await trx.deleteFrom('glance_metadef_namespaces').where('namespace', '=', namespace).execute();
      return undefined as T;
    }
    await trx.updateTable('glance_metadef_namespaces').set({ document: JSON.stringify(doc), updated_at: now }).where('namespace', '=', namespace).execute();
    return out as T;
  });
}

export async function listNamespaces(services: Pick<Services, 'db'>, viewer: Identity): Promise<Namespace[]> {
  const rows = await services.db.selectFrom('glance_metadef_namespaces').selectAll().orderBy('namespace').execute();
  return rows.map((r) => ({ ...(JSON.parse(r.document) as NamespaceDoc), namespace: r.namespace, owner: r.owner, created_at: Number(r.created_at), updated_at: Number(r.updated_at) }))
    .filter((n) => visible(viewer, { owner: n.owner, document: n }));
}

export const showNamespace = load;

export async function createNamespace(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, body: Record<string, unknown>): Promise<Namespace> {
  adminOnly(viewer);
  const namespace = nameOf(body, 'namespace');
  const now = services.clock.now();
  const stamp = (v: Record<string, unknown>): Stamped => ({ ...v, name: nameOf(v), created_at: now, updated_at: now });
  const list = (k: Part) => {
    const v = body[k] ?? [];
    if (!Array.isArray(v) || v.some((x) => !x || typeof x !== 'object')) throw badRequest(`${k} must be a list of objects`);
    return (v as Record<string, unknown>[]).map(stamp);
  };
  const doc: NamespaceDoc = {
    ...fieldsOf(body), resource_type_associations: list('resource_type_associations'), objects: list('objects'), properties: list('properties'), tags: list('tags'),
  };
  const taken = await services.db.selectFrom('glance_metadef_namespaces').select('namespace').where('namespace', '=', namespace).executeTakeFirst();
  if (taken) throw apiError('OpenStack.Conflict', `Metadata definition namespace ${namespace} already exists`);
  await services.db.insertInto('glance_metadef_namespaces').values({ namespace, owner: viewer.id, document: JSON.stringify(doc), created_at: now, updated_at: now }).execute();
  return load(services, viewer, namespace);
}

export async function updateNamespace(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string, body: Record<string, unknown>): Promise<Namespace> {
  if (body.namespace !== undefined && body.namespace !== namespace) throw badRequest('Renaming a namespace is not supported');
  await change(services, viewer, namespace, (doc) => Object.assign(doc, fieldsOf(body, doc)));
  return load(services, viewer, namespace);
}

export async function deleteNamespace(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string): Promise<void> {
  await change(services, viewer, namespace, (doc) => {
    if (doc.protected) throw apiError('OpenStack.Forbidden', `Namespace ${namespace} is protected and cannot be deleted.`);
    return { deleted: true as const };
  });
}

/** Lists one part of a namespace (objects, properties, tags, resource type associations). */
export async function listPart(services: Pick<Services, 'db'>, viewer: Identity, namespace: string, part: Part): Promise<Stamped[]> {
  return (await load(services, viewer, namespace))[part];
}

export async function showPart(services: Pick<Services, 'db'>, viewer: Identity, namespace: string, part: Part, name: string): Promise<Stamped> {
  const found = (await listPart(services, viewer, namespace, part)).find((x) => x.name === name);
  if (!found) throw notFound(`${part} ${name} in namespace ${namespace}`);
  return found;
}

/** Adds one entry (409 if its name is taken). */
export async function addPart(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string, part: Part, body: Record<string, unknown>): Promise<Stamped> {
  const name = nameOf(body);
  return change(services, viewer, namespace, (doc, now) => {
    if (doc[part].some((x) => x.name === name)) throw apiError('OpenStack.Conflict', `${name} already exists in namespace ${namespace}`);
    const entry: Stamped = { ...body, name, created_at: now, updated_at: now };
    doc[part].push(entry);
    return entry;
  });
}

/** Replaces one entry (it may be renamed). */
export async function updatePart(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string, part: Part, name: string, body: Record<string, unknown>): Promise<Stamped> {
  const next = nameOf(body);
  return change(services, viewer, namespace, (doc, now) => {
    const at = doc[part].findIndex((x) => x.name === name);
    if (at < 0) throw notFound(`${part} ${name} in namespace ${namespace}`);
    if (next !== name && doc[part].some((x) => x.name === next)) throw apiError('OpenStack.Conflict', `${next} already exists in namespace ${namespace}`);
    const entry: Stamped = { ...body, name: next, created_at: doc[part][at].created_at, updated_at: now };
    doc[part][at] = entry;
    return entry;
  });
}

export async function removePart(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string, part: Part, name: string): Promise<void> {
  await change(services, viewer, namespace, (doc) => {
    const at = doc[part].findIndex((x) => x.name === name);
    if (at < 0) throw notFound(`${part} ${name} in namespace ${namespace}`);
    doc[part].splice(at, 1);
  });
}

/** POST …/tags with `{"tags":[{"name"}…]}`: replaces every tag of the namespace. DELETE …/tags: removes them all. */
export async function replaceTags(services: Pick<Services, 'db' | 'clock' | 'dialect'>, viewer: Identity, namespace: string, tags: unknown): Promise<Stamped[]> {
  if (!Array.isArray(tags) || tags.some((t) => !t || typeof t !== 'object')) throw badRequest('tags must be a list of objects');
  const names = (tags as Record<string, unknown>[]).map((t) => nameOf(t));
  if (new Set(names).size !== names.length) throw apiError('OpenStack.Conflict', 'Duplicate tag names');
  return change(services, viewer, namespace, (doc, now) => (doc.tags = names.map((name) => ({ name, created_at: now, updated_at: now }))));
}
