import { sql, type Kysely } from 'kysely';
import type { Database, ImageDiskRow, ImageRow } from '../../store/schema.ts';
import { OWNER_ALIASES, type OwnerAlias } from '../../domain/image-rules.ts';
import type { TagList } from '../tags.ts';
import { filtered, type ImageFilter } from './filter.ts';
import { aliasParts, anyOf, ownerAliasFor, visibleTo, type VisibilityPart } from './visibility.ts';
import type { Services } from '../context.ts';
import { executeNamed, prepared } from '../../store/prepared.ts';
import { countColumns, countImages, countOf, type CountRow } from '../../store/image-counts.ts';
import { imageViewsQuery, storedViews, type StoredView } from './views-query.ts';

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
  const visible = aliasParts(f.viewer, f.alias, f.isPublic === true);
  if (f.ids?.length) return byIds(services, f, visible, page);
  // With a selective filter (snapshot, tags) the few matching rows are found by their own index and sorted;
  // `+column` stops the planner from walking a listing index in order and filtering every row of the region. Any
  // part's rows are found that way, so on PostgreSQL the parts are one OR: one count and one page instead of a count
  // and a head per part and a read of the merged page, each a round trip (by SnapshotId: p50 3.3–3.9 ms against
  // 5.1–6.9, 663 req/s against 300 at 16 connections). SQLite has no round trip to save and measured 10–20% slower so.
  const selective = !!(f.snapshotId || f.tags?.length);
  const parts = selective && visible.length > 1 && services.dialect === 'postgres' ? [anyOf(visible)] : visible;
  const tallied = onlyFilters(f, TALLIED_FILTER);
  if (parts.length === 1 && tallied && parts[0].tally && f.statuses?.length) return talliedListing(services, f, parts[0].tally, page);
  const counts = await Promise.all(parts.map(async (part) => {
    if (tallied && part.tally) return [{ n: await countImages(db, services.dialect, { region: f.region, statuses: f.statuses, ...part.tally }) }];
    const query = filtered(db, f, part).select((eb) => eb.fn.countAll<number>().as('n'));
    const compiled = query.compile();
    const count = async () => Number((await db.executeQuery(compiled)).rows[0].n);
    const n = await services.counts.get(compiled.sql + JSON.stringify(compiled.parameters), count);
    return [{ n }];
  }));
  const total = counts.reduce((sum, [{ n }]) => sum + Number(n), 0);
  const ordered = (part: VisibilityPart) => {
    const q = filtered(db, f, part);
    return selective
      ? q.orderBy(sql`+i.created_at`, 'desc').orderBy(sql`i.id || ''`, 'desc')
      : q.orderBy('i.created_at', 'desc').orderBy('i.id', 'desc');
  };
  if (parts.length === 1) {
    const found = await executeNamed(db, imageViewsQuery(db, ordered(parts[0]).selectAll('i').offset(page.offset).limit(page.limit)));
    return { total, items: storedViews(found).map((v) => imageView(v, f.viewer)) };
  }
  // Each part yields its own newest rows; merging them gives the page without sorting the whole region.
  const heads = await Promise.all(parts.map((part, i) => (Number(counts[i][0].n) ? ordered(part).select(['i.id', 'i.created_at']).limit(page.offset + page.limit).execute() : [])));
  const ids = heads.flat().sort(newestFirst).slice(page.offset, page.offset + page.limit).map((r) => r.id);
  return { total, items: await viewsOf(services, ids, f.viewer) };
}

/**
 * A page of one part that `image_counts` counts, filtered by status alone (the listing every console page asks for),
 * with its TotalCount read in the same statement: on PostgreSQL each statement is a round trip, whose socket write and
 * wake-up cost this VM's server about 0.2 ms of CPU apiece.
 */
async function talliedListing(services: Pick<Services, 'db' | 'dialect'>, f: ImageFilter, tally: NonNullable<VisibilityPart['tally']>, page: { offset: number; limit: number }) {
  const owner = tally.ownerId === undefined ? [] : [f.viewer];
  const [found] = await talliedPage(f.alias, f.isPublic === true)(services.db, f.region, owner, f.statuses!, page.offset, page.limit);
  const total = await countOf(services.db, services.dialect, { region: f.region, statuses: f.statuses, ...tally }, found);
  return { total, items: storedViews([found]).map((v) => imageView(v, f.viewer)) };
}

/** `owner`: the viewer, for a part of the viewer's own images; empty for system and Marketplace images. */
type TalliedPage = (db: Kysely<Database>, region: string, owner: string[], statuses: string[], offset: number, limit: number) => Promise<(CountRow & { views: unknown })[]>;

/** The statement of a tallied listing, built once per shape (store/prepared.ts): Kysely building and compiling it cost 0.1–0.2 ms a request. */
function talliedPageFor(alias: OwnerAlias | undefined, includePublic: boolean): TalliedPage {
  return prepared((db: Kysely<Database>, region: string, owner: string[], statuses: string[], offset: number, limit: number) => {
    const [part] = aliasParts(owner[0] ?? '', alias, includePublic);
    const rows = filtered(db, { region, statuses }, part).orderBy('i.created_at', 'desc').orderBy('i.id', 'desc');
    return imageViewsQuery(db, rows.selectAll('i').offset(offset).limit(limit)).select(countColumns(db, region, part.tally!.category, owner, statuses));
  });
}
/** One per alias (none: the default set) and whether public images count in. */
const TALLIED_PAGES: ReadonlyMap<string, TalliedPage> = new Map([undefined, ...OWNER_ALIASES].flatMap((alias) => [false, true].map((pub) => [`${alias}:${pub}`, talliedPageFor(alias, pub)] as const)));
const talliedPage = (alias: OwnerAlias | undefined, includePublic: boolean) => TALLIED_PAGES.get(`${alias}:${includePublic}`)!;

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
  const anyPart = anyOf(parts);
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
