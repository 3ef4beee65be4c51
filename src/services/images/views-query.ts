/**
 * Image rows with the parts of their views that live in other tables (disks, tags, share state, use by instances),
 * read by one statement. On PostgreSQL each statement is a round trip and a driver send, which cost more than the
 * lookups themselves (a lookup by ID was five statements).
 * - SQLite: one JSON document, each image an array of its columns and its view's other parts. One JSON value is
 *   cheaper to hand to JavaScript than 100 rows of 36 columns (better-sqlite3 builds each row's object property by
 *   property), and arrays are cheaper than objects on both sides: json_object's keys cost SQLite 0.6 ms a page and
 *   JSON.parse 0.2 ms more (a page of 100: 1.47 ms as objects, 0.62 ms as arrays, parsed).
 * - PostgreSQL: a row per image, its columns listed, with the disks and tags as JSON columns. Building the whole
 *   document cost PostgreSQL 2.2–2.5 ms for a page of 100 (json_build_object over 36 columns, 1.2 ms of it) against
 *   1.0–1.2 ms for the rows; the pg driver spends about the same decoding either (1.3–1.5 ms, in process).
 */
import { PostgresAdapter, sql, type AliasedSelectQueryBuilder, type Kysely } from 'kysely';
import type { ImageDiskRow, ImageRow } from '../../store/schema.ts';
import type { TagList } from '../tags.ts';

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

/** A PostgreSQL row: the image's columns and its view's other parts (pg parses the json columns). */
type ViewRow = ImageRow & { disks: ImageDiskRow[]; tags: TagList; shared: boolean; inUse: boolean };

const object = (alias: string, fields: readonly (readonly [string, string])[]) =>
  `json_build_object(${fields.map(([name, column]) => `'${name}', ${alias}.${column}`).join(', ')})`;
const columns = (alias: string, names: readonly string[]) => object(alias, names.map((n) => [n, n] as const));
const array = (alias: string, names: readonly string[]) => `json_array(${names.map((n) => `${alias}.${n}`).join(', ')})`;

const SHARED = 'exists (select 1 from image_shares s where s.image_id = i.id)';
const IN_USE = 'exists (select 1 from instances n where n.region = i.region and n.image_id = i.id)';
const NEWEST_FIRST = 'i.created_at desc, i.id desc';

// Disks are sorted in JavaScript by their integer idx: an ORDER BY inside each subquery costs SQLite a sorter per image.
// Tags too: SQLite's sorter per image cost 0.25 ms a page, and its BINARY order is code-point order, which storedViews
// gives the few tags itself. SQLite hands a subquery's JSON over as text: json() embeds it as JSON again.
const SQLITE_DOCUMENT = `json_group_array(json_array(${IMAGE_COLUMNS.map((c) => `i.${c}`).join(', ')}, `
  + `json((select json_group_array(${array('d', DISK_COLUMNS)}) from image_disks d where d.image_id = i.id)), `
  + `json((select json_group_array(json_array(t.tag_key, t.tag_value)) from tags t where t.resource_id = i.id)), `
  + `${SHARED}, ${IN_USE}) order by ${NEWEST_FIRST})`;
/** Where an image's array in the SQLite document holds the parts after its columns. */
const [DISKS_AT, TAGS_AT, SHARED_AT, IN_USE_AT] = [0, 1, 2, 3].map((k) => IMAGE_COLUMNS.length + k);

// Columns listed, never `i.*`: the statement may be prepared on the server, whose result type must not change when a
// migration on another node adds a column. PostgreSQL sorts tags by its collation, as before.
const POSTGRES_COLUMNS = IMAGE_COLUMNS.map((c) => `i.${c}` as const);
const POSTGRES_PARTS: [string, string][] = [
  ['disks', `(select coalesce(json_agg(${columns('d', DISK_COLUMNS)}), '[]') from image_disks d where d.image_id = i.id)`],
  ['tags', `(select coalesce(json_agg(${object('t', [['key', 'tag_key'], ['value', 'tag_value']])} order by t.tag_key), '[]') from tags t where t.resource_id = i.id)`],
  ['shared', SHARED],
  ['inUse', IN_USE],
];

/** The views of the image rows `rows` selects (aliased `i`), newest first: one document (SQLite) or a row each (PostgreSQL). */
export function imageViewsQuery(db: Kysely<any>, rows: { as(alias: 'i'): AliasedSelectQueryBuilder<ImageRow, 'i'> }) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const from = db.selectFrom(rows.as('i'));
  return postgres
    ? from.select(POSTGRES_COLUMNS).select(POSTGRES_PARTS.map(([name, expr]) => sql.raw(expr).as(name))).orderBy('i.created_at', 'desc').orderBy('i.id', 'desc')
    : from.select(sql<Document>`${sql.raw(SQLITE_DOCUMENT)}`.as('views'));
}

/** The views of an imageViewsQuery result (SQLite returns the document as text); UTF-8 byte order is SQLite's BINARY order. */
export function storedViews(result: readonly unknown[]): StoredView[] {
  const doc = (result[0] as { views?: Document } | undefined)?.views;
  if (typeof doc === 'string' || doc === null) return sqliteViews(doc);
  return (result as ViewRow[]).map(({ disks, tags, shared, inUse, ...row }) => {
    if (disks.length > 1) disks.sort((a, b) => a.idx - b.idx);
    return { row, disks, tags, shared, inUse };
  });
}

type Values = unknown[];

/** A row object from its values in `names` order. */
function record<T>(names: readonly string[], values: Values): T {
  const row: Record<string, unknown> = {};
  for (let k = 0; k < names.length; k++) row[names[k]] = values[k];
  return row as T;
}

function sqliteViews(doc: string | null): StoredView[] {
  const images = (doc ? JSON.parse(doc) : []) as Values[];
  return images.map((image) => {
    const disks = (image[DISKS_AT] as Values[]).map((d) => record<ImageDiskRow>(DISK_COLUMNS, d));
    if (disks.length > 1) disks.sort((a, b) => a.idx - b.idx);
    const tags: TagList = (image[TAGS_AT] as [string, string][]).map(([key, value]) => ({ key, value }));
    if (tags.length > 1) tags.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    // SQLite's exists() is 0 or 1.
    return { row: record<ImageRow>(IMAGE_COLUMNS, image), disks, tags, shared: image[SHARED_AT] === 1, inUse: image[IN_USE_AT] === 1 };
  });
}
