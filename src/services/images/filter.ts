/** The filters of DescribeImages and the rows of `images` they select (one place, for listings and lookups alike). */
import { sql, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Database, ImageRow } from '../../store/schema.ts';
import type { OwnerAlias } from '../../domain/image-rules.ts';
import { noRows } from '../../store/conditions.ts';
import { tagConditions, type TagFilter } from '../tags.ts';
import type { VisibilityPart } from './visibility.ts';

export interface ImageFilter {
  region: string;
  viewer: string;
  ids?: string[];
  name?: string;
  family?: string;
  alias?: OwnerAlias;
  /** undefined = every status */
  statuses?: string[];
  osType?: string;
  architectures?: string[];
  isSupportCloudinit?: boolean;
  isSupportIoOptimized?: boolean;
  isPublic?: boolean;
  ownerId?: string;
  snapshotId?: string;
  tags?: TagFilter[];
  createdFrom?: number;
  createdTo?: number;
  /** A filter no image here can pass (e.g. classic networking): the result is empty. */
  matchesNothing?: boolean;
  /** Image IDs in use by instances; `usage` filters against it. */
  usage?: 'instance' | 'none';
  inUse?: Set<string>;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

/** The rows of `images as i` (or of `from`, which joins it) that pass `part` and the filter. */
export function filtered(from: Kysely<Database> | SelectQueryBuilder<any, 'i', object>, f: Omit<ImageFilter, 'viewer'>, part: VisibilityPart) {
  const rows: SelectQueryBuilder<Database & { i: ImageRow }, 'i', object> = 'selectFrom' in from ? from.selectFrom('images as i') : from;
  return rows.where('i.region', '=', f.region).where((eb) => {
    const c = [part(eb)];
    if (f.matchesNothing) c.push(noRows);
    if (f.ids?.length) c.push(eb('i.id', 'in', f.ids));
    if (f.name) c.push(sql<SqlBool>`lower(i.name) like ${`%${escapeLike(f.name.toLowerCase())}%`} escape '\\'`);
    if (f.family) c.push(eb('i.family', '=', f.family));
    if (f.statuses) c.push(eb('i.status', 'in', f.statuses));
    if (f.osType) c.push(eb('i.os_type', '=', f.osType));
    if (f.architectures) c.push(eb('i.architecture', 'in', f.architectures));
    if (f.isSupportCloudinit !== undefined) c.push(eb('i.is_support_cloudinit', '=', f.isSupportCloudinit ? 1 : 0));
    if (f.isSupportIoOptimized !== undefined) c.push(eb('i.is_support_io_optimized', '=', f.isSupportIoOptimized ? 1 : 0));
    if (f.ownerId) c.push(eb('i.owner_id', '=', f.ownerId));
    if (f.createdFrom !== undefined) c.push(eb('i.created_at', '>=', f.createdFrom));
    if (f.createdTo !== undefined) c.push(eb('i.created_at', '<=', f.createdTo));
    // Subqueries driven by their own indexes (snapshot, tag) rather than probed once per image.
    if (f.snapshotId) {
      c.push(eb('i.id', 'in', eb.selectFrom('image_disks as d').select('d.image_id').where('d.snapshot_id', '=', f.snapshotId)));
    }
    c.push(...tagConditions(eb, 'i.id', f.tags));
    if (f.usage && f.inUse) {
      const used = [...f.inUse];
      if (f.usage === 'instance') c.push(used.length ? eb('i.id', 'in', used) : noRows);
      else if (used.length) c.push(eb('i.id', 'not in', used));
    }
    return eb.and(c);
  });
}
