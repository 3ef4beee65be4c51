/**
 * Image rows with the parts of their views that live in other tables (disks, tags, share state, use by instances),
 * read by one statement as one JSON document. On PostgreSQL each statement is a round trip and a driver send, which
 * cost more than the lookups themselves (a lookup by ID was five statements). On both engines one JSON value is
 * cheaper to hand to JavaScript than 100 rows of 36 columns: the driver builds each row's object property by
 * property, JSON.parse builds them all at once (better-sqlite3: 0.78 ms for a page's rows as objects, 0.70 ms
 * for the same rows as one document, parsed).
 */
import { PostgresAdapter, sql, type AliasedSelectQueryBuilder, type Kysely } from 'kysely';
import type { ImageDiskRow, ImageRow } from '../../store/schema.ts';
import type { TagList } from '../tags.ts';

/** Every column of `images` (the compiler checks the list against ImageRow), so a view's row is a whole row. */
const IMAGE_COLUMNS = [
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

type Document = string | StoredView[] | null;

function documentSql(postgres: boolean): string {
  const object = (alias: string, fields: readonly (readonly [string, string])[]) =>
    `${postgres ? 'json_build_object' : 'json_object'}(${fields.map(([name, column]) => `'${name}', ${alias}.${column}`).join(', ')})`;
  const columns = (alias: string, names: readonly string[]) => object(alias, names.map((n) => [n, n] as const));
  const list = (item: string, order = '') => (postgres ? `coalesce(json_agg(${item}${order}), '[]')` : `json_group_array(${item}${order})`);
  // SQLite hands a subquery's JSON over as text: json() embeds it as JSON again.
  const nested = (subquery: string) => (postgres ? `(${subquery})` : `json((${subquery}))`);
  // Disks are sorted in JavaScript by their integer idx: an ORDER BY inside each subquery costs SQLite a sorter per image.
  const disks = nested(`select ${list(columns('d', DISK_COLUMNS))} from image_disks d where d.image_id = i.id`);
  // PostgreSQL sorts tags by its collation, as before; SQLite's sorter per image cost 0.25 ms a page, and its BINARY
  // order is code-point order, which storedViews gives the few tags itself.
  const tags = nested(`select ${list(object('t', [['key', 'tag_key'], ['value', 'tag_value']]), postgres ? ' order by t.tag_key' : '')} from tags t where t.resource_id = i.id`);
  const view = `${postgres ? 'json_build_object' : 'json_object'}('row', ${columns('i', IMAGE_COLUMNS)}, 'disks', ${disks}, 'tags', ${tags}, `
    + `'shared', exists (select 1 from image_shares s where s.image_id = i.id), `
    + `'inUse', exists (select 1 from instances n where n.region = i.region and n.image_id = i.id))`;
  return list(view, ' order by i.created_at desc, i.id desc');
}

const DOCUMENT = { postgres: documentSql(true), sqlite: documentSql(false) };

/** The views of the image rows `rows` selects (aliased `i`), newest first, as one row with one `views` column. */
export function imageViewsQuery(db: Kysely<any>, rows: { as(alias: 'i'): AliasedSelectQueryBuilder<ImageRow, 'i'> }) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  return db.selectFrom(rows.as('i')).select(sql<Document>`${sql.raw(postgres ? DOCUMENT.postgres : DOCUMENT.sqlite)}`.as('views'));
}

/** The views of an imageViewsQuery result (SQLite returns the document as text, PostgreSQL parsed); UTF-8 byte order is SQLite's BINARY order. */
export function storedViews(result: { views: Document }[]): StoredView[] {
  const doc = result[0]?.views;
  const sqlite = typeof doc === 'string';
  const views = (sqlite ? JSON.parse(doc) : doc ?? []) as StoredView[];
  for (const v of views) {
    if (v.disks.length > 1) v.disks.sort((a, b) => a.idx - b.idx);
    if (sqlite && v.tags.length > 1) v.tags.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    // SQLite's exists() is 0 or 1.
    v.shared = Boolean(v.shared);
    v.inUse = Boolean(v.inUse);
  }
  return views;
}
