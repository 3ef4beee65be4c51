/** DescribeInstances and DescribeDisks: the caller's resources in a region, filtered in SQL, newest first. */
import { sql, type Expression, type SqlBool } from 'kysely';
import type { DiskRow, InstanceRow } from '../../store/schema.ts';
import type { Services } from '../context.ts';
import { newestFirstPage, type Page, type Paging } from '../paging.ts';
import { tagConditions, tagsOf, type TagFilter, type TagList } from '../tags.ts';
import { noRows } from '../../store/conditions.ts';

export type Tagged<R> = { row: R; tags: TagList };

async function withTags<R extends { id: string }>(services: Services, rows: R[]): Promise<Tagged<R>[]> {
  const tags = await tagsOf(services, rows.map((r) => r.id));
  return rows.map((row) => ({ row, tags: tags(row.id) }));
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
    if (f.ids) c.push(f.ids.length ? eb('id', 'in', f.ids) : noRows);
    if (f.imageId) c.push(eb('image_id', '=', f.imageId));
    if (f.status) c.push(eb('status', '=', f.status));
    if (f.name) c.push(f.name.includes('*') ? sql<SqlBool>`name like ${likePattern(f.name)} escape '\\'` : eb('name', '=', f.name));
    if (f.instanceType) c.push(eb('instance_type', '=', f.instanceType));
    if (f.zoneId) c.push(eb('zone', '=', f.zoneId));
    c.push(...tagConditions(eb, 'id', f.tags, 'instance'));
    return eb.and(c);
  });
}

export async function describeInstances(services: Services, f: InstanceFilter, p: Paging): Promise<Page<InstanceView>> {
  const page = await newestFirstPage(() => instances(services, f), p);
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
    if (f.ids) c.push(f.ids.length ? eb('id', 'in', f.ids) : noRows);
    if (f.instanceId) c.push(eb('instance_id', '=', f.instanceId));
    if (f.type) c.push(eb('type', '=', f.type as DiskRow['type']));
    if (f.category) c.push(eb('category', '=', f.category));
    if (f.status) c.push(eb('status', '=', f.status));
    if (f.snapshotId) c.push(eb('source_snapshot_id', '=', f.snapshotId));
    if (f.zoneId) c.push(eb('zone', '=', f.zoneId));
    if (f.name) c.push(eb('name', '=', f.name));
    c.push(...tagConditions(eb, 'id', f.tags, 'disk'));
    return eb.and(c);
  });
}

export async function describeDisks(services: Services, f: DiskFilter, p: Paging): Promise<Page<Tagged<DiskRow>>> {
  const page = await newestFirstPage(() => disks(services, f), p);
  return { ...page, items: await withTags(services, page.items) };
}
