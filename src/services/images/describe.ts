import { sql, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Database, ImageDiskRow, ImageRow } from '../../store/schema.ts';
import type { OwnerAlias } from '../../domain/image-rules.ts';
import { tagConditions, type TagFilter, type TagList } from '../tags.ts';
import { aliasParts, ownerAliasFor, visibleTo, type VisibilityPart } from './visibility.ts';
import type { Services } from '../context.ts';
import { noRows } from '../../store/conditions.ts';
import { executeNamed, prepared } from '../../store/prepared.ts';
import { countImages } from '../../store/image-counts.ts';
import { imageViewsQuery, storedViews, type StoredView } from './views-query.ts';

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

export interface ImageView {
  row: ImageRow;
  alias: OwnerAlias;
  disks: ImageDiskRow[];
  tags: TagList;
  isSelfShared: boolean;
  /** Instances in the region were launched from it. */
  inUse: boolean;
}

function newestFirst(a: Pick<ImageRow, 'id' | 'created_at'>, b: Pick<ImageRow, 'id' | 'created_at'>): number {
  return b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
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

/** True when `f` sets no field but `allowed` ones (an empty list, such as no Tag.N, sets nothing). */
function onlyFilters(f: ImageFilter, allowed: Set<string>): boolean {
  return Object.entries(f).every(([k, v]) => v === undefined || (Array.isArray(v) && v.length === 0) || allowed.has(k));
}

/** Filter fields that leave a part countable from `image_counts` (region, owner and category come from the part). */
const TALLIED_FILTER = new Set(['region', 'viewer', 'alias', 'statuses', 'isPublic']);

export async function describeImages(
  services: Pick<Services, 'db' | 'counts' | 'dialect' | 'imageLookups'>,
  f: ImageFilter,
  page: { offset: number; limit: number },
): Promise<{ total: number; items: ImageView[] }> {
  const { db } = services;
  const parts = aliasParts(f.viewer, f.alias, f.isPublic === true);
  if (f.ids?.length) return byIds(services, f, parts, page);
  const tallied = onlyFilters(f, TALLIED_FILTER);
  const counts = await Promise.all(parts.map(async (part) => {
    if (tallied && part.tally) return [{ n: await countImages(db, services.dialect, { region: f.region, statuses: f.statuses, ...part.tally }) }];
    const query = filtered(db, f, part).select((eb) => eb.fn.countAll<number>().as('n'));
    const compiled = query.compile();
    const count = async () => Number((await db.executeQuery(compiled)).rows[0].n);
    const n = await services.counts.get(compiled.sql + JSON.stringify(compiled.parameters), count);
    return [{ n }];
  }));
  const total = counts.reduce((sum, [{ n }]) => sum + Number(n), 0);
  // With a selective filter (IDs, snapshot, tags) the few matching rows are found by their own index and sorted;
  // `+column` stops the planner from walking a listing index in order and filtering every row of the region.
  const selective = !!(f.ids?.length || f.snapshotId || f.tags?.length);
  const ordered = (part: VisibilityPart) => {
    const q = filtered(db, f, part);
    return selective
      ? q.orderBy(sql`+i.created_at`, 'desc').orderBy(sql`i.id || ''`, 'desc')
      : q.orderBy('i.created_at', 'desc').orderBy('i.id', 'desc');
  };
  if (parts.length === 1) {
    const { tally } = parts[0];
    const found = tallied && tally && f.statuses?.length
      ? await talliedPage(f.alias, f.isPublic === true)(db, f.region, tally.ownerId === undefined ? [] : [f.viewer], f.statuses, page.offset, page.limit)
      : await executeNamed(db, imageViewsQuery(db, ordered(parts[0]).selectAll('i').offset(page.offset).limit(page.limit)));
    return { total, items: storedViews(found).map((v) => imageView(v, f.viewer)) };
  }
  // Each part yields its own newest rows; merging them gives the page without sorting the whole region.
  const heads = await Promise.all(parts.map((part, i) => (Number(counts[i][0].n) ? ordered(part).select(['i.id', 'i.created_at']).limit(page.offset + page.limit).execute() : [])));
  const ids = heads.flat().sort(newestFirst).slice(page.offset, page.offset + page.limit).map((r) => r.id);
  return { total, items: await viewsOf(services, ids, f.viewer) };
}

/** `owner`: the viewer, for a part of the viewer's own images; empty for system and Marketplace images. */
type TalliedPage = (db: Kysely<Database>, region: string, owner: string[], statuses: string[], offset: number, limit: number) => Promise<unknown[]>;
const talliedPages = new Map<string, TalliedPage>();

/**
 * A page of a part that `image_counts` counts, filtered by status alone (the listing every console page asks for),
 * built once per alias and number of statuses (store/prepared.ts): Kysely building and compiling it cost 0.1–0.2 ms
 * a request.
 */
function talliedPage(alias: OwnerAlias | undefined, includePublic: boolean): TalliedPage {
  const key = `${alias}:${includePublic}`;
  let page = talliedPages.get(key);
  if (!page) {
    page = prepared((db: Kysely<Database>, region: string, owner: string[], statuses: string[], offset: number, limit: number) => {
      const [part] = aliasParts(owner[0] ?? '', alias, includePublic);
      const rows = filtered(db, { region, statuses }, part).orderBy('i.created_at', 'desc').orderBy('i.id', 'desc');
      return imageViewsQuery(db, rows.selectAll('i').offset(offset).limit(limit));
    });
    talliedPages.set(key, page);
  }
  return page;
}

function imageView(v: StoredView, viewer: string): ImageView {
  return { row: v.row, alias: ownerAliasFor(v.row, viewer), disks: v.disks, tags: v.tags, isSelfShared: v.row.owner_id === viewer && v.shared, inUse: v.inUse };
}

/** The filters of a plain lookup by IDs (ImageLookups: on PostgreSQL, grouped with other requests' lookups). */
const PLAIN_LOOKUP = new Set(['region', 'viewer', 'ids', 'statuses']);

/**
 * A lookup by IDs matches at most as many rows as IDs were named (a request names at most 100), so every match is
 * read and counted in one pass instead of counting each visibility part first. The primary key finds the rows, so
 * the parts are one OR, and the rows come with their disks, tags and share state: one statement.
 */
async function byIds(services: Pick<Services, 'db' | 'imageLookups'>, f: ImageFilter, parts: VisibilityPart[], page: { offset: number; limit: number }) {
  const anyPart: VisibilityPart = (eb) => eb.or(parts.map((part) => part(eb)));
  const plain = f.ids && f.statuses?.length && f.alias === undefined && onlyFilters(f, PLAIN_LOOKUP);
  const views = plain
    ? await services.imageLookups({ region: f.region, viewer: f.viewer, ids: f.ids!, statuses: f.statuses! })
    : storedViews(await imageViewsQuery(services.db, filtered(services.db, f, anyPart).selectAll('i')).execute());
  // Sorted here as before, so ties in created_at keep the order they had whatever the database's collation.
  const found = views.sort((a, b) => newestFirst(a.row, b.row));
  return { total: found.length, items: found.slice(page.offset, page.offset + page.limit).map((v) => imageView(v, f.viewer)) };
}

const viewsById = prepared((db: Kysely<Database>, ids: string[]) => imageViewsQuery(db, db.selectFrom('images as i').selectAll('i').where('i.id', 'in', ids)));

/** The views of these images, in the order given (one statement). */
async function viewsOf(services: Pick<Services, 'db'>, ids: string[], viewer: string): Promise<ImageView[]> {
  if (ids.length === 0) return [];
  const byId = new Map(storedViews(await viewsById(services.db, ids)).map((v) => [v.row.id, v]));
  return ids.map((id) => imageView(byId.get(id)!, viewer));
}

/** The image with this ID in this region if the viewer may see it. */
export async function findVisibleImage(services: Pick<Services, 'db'>, region: string, id: string, viewer: string): Promise<ImageView | undefined> {
  const { db } = services;
  const rows = db.selectFrom('images as i').selectAll('i').where('i.region', '=', region).where('i.id', '=', id).where((eb) => visibleTo(eb, viewer));
  const [found] = storedViews(await imageViewsQuery(db, rows).execute());
  return found && imageView(found, viewer);
}

/** The newest Available image of a family visible to the viewer (deprecated ones never qualify). */
export async function newestOfFamily(services: Pick<Services, 'db'>, region: string, family: string, viewer: string): Promise<ImageView | undefined> {
  const { db } = services;
  const rows = db.selectFrom('images as i').selectAll('i').where('i.region', '=', region).where('i.family', '=', family)
    .where('i.status', '=', 'Available').where((eb) => visibleTo(eb, viewer))
    .orderBy('i.created_at', 'desc').orderBy('i.id', 'desc').limit(1);
  const [found] = storedViews(await imageViewsQuery(db, rows).execute());
  return found && imageView(found, viewer);
}
