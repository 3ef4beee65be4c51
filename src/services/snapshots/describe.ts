/** DescribeSnapshots: the caller's snapshots in a region, filtered in SQL and paged newest first. */
import type { ExpressionBuilder, Expression, SqlBool } from 'kysely';
import type { Database, SnapshotRow } from '../../store/schema.ts';
import type { Services } from '../context.ts';
import { newestFirstPage, type Page, type Paging } from '../paging.ts';
import { tagConditions, tagsOf, type TagFilter, type TagList } from '../tags.ts';
import { snapshotUsage } from './repo.ts';
import { noRows } from '../../store/conditions.ts';

export type SnapshotUsage = 'image' | 'disk' | 'image_disk' | 'none';

export interface SnapshotFilter {
  region: string;
  owner: string;
  ids?: string[];
  diskId?: string;
  instanceId?: string;
  name?: string;
  statuses?: string[];
  snapshotType?: string;
  sourceDiskType?: string;
  usage?: SnapshotUsage;
  encrypted?: boolean;
  createdFrom?: number;
  createdTo?: number;
  tags?: TagFilter[];
}

export interface SnapshotView {
  row: SnapshotRow;
  usage: string;
  tags: TagList;
}

type EB = ExpressionBuilder<Database, 'snapshots'>;

function usageCondition(eb: EB, usage: SnapshotUsage): Expression<SqlBool> {
  const byImage = eb.exists(eb.selectFrom('image_disks as d').select('d.image_id').whereRef('d.snapshot_id', '=', 'snapshots.id'));
  const byDisk = eb.exists(eb.selectFrom('disks as k').select('k.id').whereRef('k.source_snapshot_id', '=', 'snapshots.id'));
  switch (usage) {
    case 'image': return eb.and([byImage, eb.not(byDisk)]);
    case 'disk': return eb.and([eb.not(byImage), byDisk]);
    case 'image_disk': return eb.and([byImage, byDisk]);
    case 'none': return eb.and([eb.not(byImage), eb.not(byDisk)]);
  }
}

function filtered(services: Services, f: SnapshotFilter) {
  return services.db.selectFrom('snapshots').where('region', '=', f.region).where('owner_id', '=', f.owner).where((eb) => {
    const c: Expression<SqlBool>[] = [];
    if (f.ids) c.push(f.ids.length ? eb('id', 'in', f.ids) : noRows);
    if (f.diskId) c.push(eb('source_disk_id', '=', f.diskId));
    if (f.instanceId) c.push(eb('source_disk_id', 'in', eb.selectFrom('disks').select('disks.id').where('disks.instance_id', '=', f.instanceId)));
    if (f.name) c.push(eb('name', '=', f.name));
    if (f.statuses) c.push(eb('status', 'in', f.statuses));
    if (f.snapshotType) c.push(eb('snapshot_type', '=', f.snapshotType));
    if (f.sourceDiskType) c.push(eb('source_disk_type', '=', f.sourceDiskType as SnapshotRow['source_disk_type']));
    if (f.usage) c.push(usageCondition(eb, f.usage));
    if (f.encrypted === true) c.push(noRows); // no snapshot here is encrypted
    if (f.createdFrom !== undefined) c.push(eb('created_at', '>=', f.createdFrom));
    if (f.createdTo !== undefined) c.push(eb('created_at', '<=', f.createdTo));
    c.push(...tagConditions(eb, 'id', f.tags, 'snapshot'));
    return eb.and(c);
  });
}

export async function describeSnapshots(services: Services, f: SnapshotFilter, p: Paging): Promise<Page<SnapshotView>> {
  const page = await newestFirstPage(() => filtered(services, f), p);
  const ids = page.items.map((r) => r.id);
  const [usage, tags] = await Promise.all([snapshotUsage(services, ids), tagsOf(services, ids)]);
  return { ...page, items: page.items.map((row) => ({ row, usage: usage.get(row.id) ?? 'none', tags: tags(row.id) })) };
}
