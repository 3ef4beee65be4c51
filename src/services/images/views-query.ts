/**
 * Image rows with the parts of their views that live in other tables (disks, tags, share state, use by instances),
 * read by one statement. On PostgreSQL each statement is a round trip and a driver send, which cost more than the
 * lookups themselves (a lookup by ID was five statements).
 * The statement yields one JSON document, each image an array of its columns and its view's other parts. One JSON
 * value is cheaper to hand to JavaScript than 100 rows of 36 columns: better-sqlite3 builds each row's object
 * property by property, and the pg driver decodes 3,600 text fields (1.2–1.3 ms of the server's CPU for a page of
 * 100, against 0.7 for the document, parsed). Arrays are cheaper than objects on both sides: json_object's keys cost
 * SQLite 0.6 ms a page and JSON.parse 0.2 ms more (1.47 ms as objects, 0.62 ms as arrays, parsed), and PostgreSQL's
 * json_build_object over 36 columns cost it 1.2 ms where its json_build_array document costs 0.3 ms more than rows.
 */
import { sql, type AliasedSelectQueryBuilder, type Kysely } from 'kysely';
import type { ImageDiskRow, ImageRow } from '../../store/schema.ts';
import type { TagList } from '../tags.ts';
import { dialectOf } from '../../store/dialect.ts';

/** Every column of `images` (the compiler checks the list against ImageRow), so a view's row is a whole row. */
export const IMAGE_COLUMNS = [
  'id', 'region', 'owner_id', 'name', 'description', 'family', 'version', 'category', 'status', 'progress', 'os_name', 'os_name_en',
  'os_type', 'platform', 'architecture', 'boot_mode', 'size_gib', 'is_support_cloudinit', 'is_support_io_optimized', 'product_code',
  'license_type', 'license_class', 'imds_support', 'nvme_support', 'source_kind', 'source_id', 'is_copied', 'encrypted', 'kms_key_id',
  'is_public', 'error_code', 'error_message', 'created_at', 'updated_at', 'image_kind', 'share_family',
] as const satisfies readonly (keyof ImageRow)[];
const EVERY_COLUMN_LISTED: Exclude<keyof ImageRow, (typeof IMAGE_COLUMNS)[number]> extends never ? true : never = true;
void EVERY_COLUMN_LISTED;

const DISK_COLUMNS = ['image_id', 'idx', 'type', 'device', 'size_gib', 'snapshot_id', 'format', 'import_bucket', 'import_object', 'progress'] as const satisfies readonly (keyof ImageDiskRow)[];

export interface StoredView {
  row: ImageRow;
  /** In `idx` order. */
  disks: ImageDiskRow[];
  /** Sorted by key. */
  tags: TagList;
  /** Shared with any account. */
  shared: boolean;
  /** Instances in the region were launched from it. */
  inUse: boolean;
}

type Document = string | null;

/** JSON built by the database: the same document on SQLite and PostgreSQL. */
export function jsonSql(postgres: boolean) {
  return {
    array: (items: readonly string[]) => `${postgres ? 'json_build_array' : 'json_array'}(${items.join(', ')})`,
    // An empty aggregate is NULL on PostgreSQL; SQLite's json_group_array gives [].
    list: (item: string, order = '') => (postgres ? `coalesce(json_agg(${item}${order}), '[]')` : `json_group_array(${item}${order})`),
    // SQLite hands a subquery's JSON over as text: json() embeds it as JSON again.
    nested: (subquery: string) => (postgres ? `(${subquery})` : `json((${subquery}))`),
  };
}

/**
 * The document of the rows aliased `i`, newest first. Disks are sorted in JavaScript by their integer idx: an ORDER
 * BY inside each subquery costs SQLite a sorter per image. PostgreSQL sorts tags by its collation, as before; on
 * SQLite a sorter per image cost 0.25 ms a page, and its BINARY order is code-point order, which storedViews gives
 * the few tags itself.
 */
function viewsDocument(postgres: boolean): string {
  const { array, list, nested } = jsonSql(postgres);
  const image = array([
    ...IMAGE_COLUMNS.map((c) => `i.${c}`),
    nested(`select ${list(array(DISK_COLUMNS.map((c) => `d.${c}`)))} from image_disks d where d.image_id = i.id`),
    nested(`select ${list(array(['t.tag_key', 't.tag_value']), postgres ? ' order by t.tag_key' : '')} from tags t where t.resource_id = i.id`),
    'exists (select 1 from image_shares s where s.image_id = i.id)',
    'exists (select 1 from instances n where n.region = i.region and n.image_id = i.id)',
  ]);
  const document = list(image, ' order by i.created_at desc, i.id desc');
  return postgres ? `(${document})::text` : document;
}
/** Where an image's array holds the parts after its columns. */
const [DISKS_AT, TAGS_AT, SHARED_AT, IN_USE_AT] = [0, 1, 2, 3].map((k) => IMAGE_COLUMNS.length + k);
const DOCUMENTS = { sqlite: viewsDocument(false), postgres: viewsDocument(true) };

/**
 * The views of the image rows `rows` selects (aliased `i`), newest first, as one document; with `groupBy`, one
 * document per value of that column of the rows, as `k`.
 */
export function imageViewsQuery(db: Kysely<any>, rows: { as(alias: 'i'): AliasedSelectQueryBuilder<ImageRow, 'i'> }, groupBy?: string) {
  const document = DOCUMENTS[dialectOf(db)];
  const views = db.selectFrom(rows.as('i')).select(sql<Document>`${sql.raw(document)}`.as('views'));
  return groupBy ? views.select(sql.ref(`i.${groupBy}`).as('k')).groupBy(sql.ref(`i.${groupBy}`)) : views;
}

export type Values = unknown[];

/**
 * Builds row objects from their values in `names` order. Generated from the constant column names: an object literal
 * has its shape at once, where 36 keyed stores walk each row through 36 shapes (a page of 100 rows: 0.25–0.45 ms,
 * against 0.02 ms).
 */
export function rowBuilder<T>(names: readonly string[]): (values: Values) => T {
  if (!names.every((n) => /^[a-z_][a-z0-9_]*$/.test(n))) throw new Error(`not column names: ${names.join(', ')}`);
  return new Function('v', `return { ${names.map((n, k) => `${n}: v[${k}]`).join(', ')} };`) as (values: Values) => T;
}
export const imageRow = rowBuilder<ImageRow>(IMAGE_COLUMNS);
const diskRow = rowBuilder<ImageDiskRow>(DISK_COLUMNS);

/** The views of an imageViewsQuery result; UTF-8 byte order is SQLite's BINARY order. */
export function storedViews(result: readonly unknown[]): StoredView[] {
  const doc = (result[0] as { views?: Document } | undefined)?.views;
  const images = (doc ? JSON.parse(doc) : []) as Values[];
  return images.map((image) => {
    const disks = (image[DISKS_AT] as Values[]).map(diskRow);
    if (disks.length > 1) disks.sort((a, b) => a.idx - b.idx);
    // SQLite's exists() is 0 or 1 and its tags come unsorted; PostgreSQL's exists() is a boolean and its tags sorted.
    const fromSqlite = typeof image[SHARED_AT] === 'number';
    const tags: TagList = (image[TAGS_AT] as [string, string][]).map(([key, value]) => ({ key, value }));
    if (fromSqlite && tags.length > 1) tags.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    return { row: imageRow(image), disks, tags, shared: Boolean(image[SHARED_AT]), inUse: Boolean(image[IN_USE_AT]) };
  });
}
