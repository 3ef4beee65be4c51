/** DescribeInstances and DescribeDisks: the caller's resources in a region, filtered in SQL, newest first. */
import { sql, type Expression, type SqlBool } from 'kysely';
import type { DiskRow, InstanceRow } from '../../store/schema.ts';
import type { Services } from '../context.ts';
import { afterKey, pageOf, type Page, type Paging } from './paging.ts';

export interface TagFilter {
  key: string;
  value?: string;
}

export type Tagged<R> = { row: R; tags: { key: string; value: string }[] };

async function withTags<R extends { id: string }>(services: Services, rows: R[]): Promise<Tagged<R>[]> {
  const ids = rows.map((r) => r.id);
  const tags = ids.length
    ? await services.db.selectFrom('tags').select(['resource_id', 'tag_key', 'tag_value']).where('resource_id', 'in', ids).orderBy('tag_key').execute()
    : [];
  return rows.map((row) => ({ row, tags: tags.filter((t) => t.resource_id === row.id).map((t) => ({ key: t.tag_key, value: t.tag_value })) }));
}

export interface InstanceFilter {
  region: string;
  owner: string;
  ids?: string[];
  imageId?: string;
  status?: string;
  /** `*` matches any run of characters. */
  name?: string;
  instanceType?: string;
  zoneId?: string;
  tags?: TagFilter[];
}

export interface InstanceView extends Tagged<InstanceRow> {
  cpu: number;
  memoryGib: number;
  family: string;
}

function likePattern(wildcard: string): string {
  return wildcard.replace(/[\\%_]/g, (c) => '\\' + c).replace(/\*/g, '%');
}

function instances(services: Services, f: InstanceFilter) {
  return services.db.selectFrom('instances').where('region', '=', f.region).where('owner_id', '=', f.owner).where((eb) => {
    const c: Expression<SqlBool>[] = [];
    if (f.ids) c.push(f.ids.length ? eb('id', 'in', f.ids) : eb.val(false));
    if (f.imageId) c.push(eb('image_id', '=', f.imageId));
    if (f.status) c.push(eb('status', '=', f.status));
    if (f.name) c.push(f.name.includes('*') ? sql<SqlBool>`name like ${likePattern(f.name)} escape '\\'` : eb('name', '=', f.name));
    if (f.instanceType) c.push(eb('instance_type', '=', f.instanceType));
    if (f.zoneId) c.push(eb('zone', '=', f.zoneId));
    for (const t of f.tags ?? []) {
      let sub = eb.selectFrom('tags as t').select('t.resource_id').where('t.resource_type', '=', 'instance').where('t.tag_key', '=', t.key);
      if (t.value !== undefined) sub = sub.where('t.tag_value', '=', t.value);
      c.push(eb('id', 'in', sub));
    }
    return eb.and(c);
  });
}

export async function describeInstances(services: Services, f: InstanceFilter, p: Paging): Promise<Page<InstanceView>> {
  const [{ n }] = await instances(services, f).select((eb) => eb.fn.countAll<number>().as('n')).execute();
  let q = instances(services, f).selectAll();
  const after = afterKey(p);
  if (after) q = q.where(after);
  const page = pageOf(await q.orderBy('created_at', 'desc').orderBy('id', 'desc').offset(p.offset).limit(p.limit + 1).execute(), p, Number(n));
  const tagged = await withTags(services, page.items);
  return {
    ...page,
    items: tagged.map((v) => {
      const t = services.instanceTypes.find((x) => x.InstanceTypeId === v.row.instance_type);
      return { ...v, cpu: t?.CpuCoreCount ?? 0, memoryGib: t?.MemorySize ?? 0, family: t?.InstanceTypeFamily ?? '' };
    }),
  };
}

export interface DiskFilter {
  region: string;
  owner: string;
  ids?: string[];
  instanceId?: string;
  /** system | data (undefined = all) */
  type?: string;
  category?: string;
  status?: string;
  snapshotId?: string;
  zoneId?: string;
  name?: string;
  tags?: TagFilter[];
}

function disks(services: Services, f: DiskFilter) {
  return services.db.selectFrom('disks').where('region', '=', f.region).where('owner_id', '=', f.owner).where((eb) => {
    const c: Expression<SqlBool>[] = [];
    if (f.ids) c.push(f.ids.length ? eb('id', 'in', f.ids) : eb.val(false));
    if (f.instanceId) c.push(eb('instance_id', '=', f.instanceId));
    if (f.type) c.push(eb('type', '=', f.type as DiskRow['type']));
    if (f.category) c.push(eb('category', '=', f.category));
    if (f.status) c.push(eb('status', '=', f.status));
    if (f.snapshotId) c.push(eb('source_snapshot_id', '=', f.snapshotId));
    if (f.zoneId) c.push(eb('zone', '=', f.zoneId));
    if (f.name) c.push(eb('name', '=', f.name));
    for (const t of f.tags ?? []) {
      let sub = eb.selectFrom('tags as t').select('t.resource_id').where('t.resource_type', '=', 'disk').where('t.tag_key', '=', t.key);
      if (t.value !== undefined) sub = sub.where('t.tag_value', '=', t.value);
      c.push(eb('id', 'in', sub));
    }
    return eb.and(c);
  });
}

export async function describeDisks(services: Services, f: DiskFilter, p: Paging): Promise<Page<Tagged<DiskRow>>> {
  const [{ n }] = await disks(services, f).select((eb) => eb.fn.countAll<number>().as('n')).execute();
  let q = disks(services, f).selectAll();
  const after = afterKey(p);
  if (after) q = q.where(after);
  const page = pageOf(await q.orderBy('created_at', 'desc').orderBy('id', 'desc').offset(p.offset).limit(p.limit + 1).execute(), p, Number(n));
  return { ...page, items: await withTags(services, page.items) };
}
