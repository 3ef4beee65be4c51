/**
 * An image row with its glance_images row (none for an image made through ECS, say) and its tag keys, read as one JSON
 * document per image.
 */
import { sql, type AliasedRawBuilder, type Kysely, type RawBuilder } from 'kysely';
import type { Database, GlanceImageRow, ImageRow } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';
import { grouped } from '../../store/group.ts';
import { rowsByKeys } from '../../store/conditions.ts';
import { dialectOf, type Dialect } from '../../store/dialect.ts';
import { IMAGE_COLUMNS, imageRow, jsonSql, rowBuilder, type Values } from '../images/views-query.ts';

/** Every column of `glance_images` (the compiler checks the list against GlanceImageRow), so a document is whole. */
const GLANCE_FIELDS = ['image_id', 'disk_format', 'container_format', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram',
  'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'file_manifest_id', 'phase', 'stage_path', 'stage_node', 'stage_md5', 'stage_sha512', 'properties', 'locations',
] as const satisfies readonly (keyof GlanceImageRow)[];
const EVERY_FIELD_LISTED: Exclude<keyof GlanceImageRow, (typeof GLANCE_FIELDS)[number]> extends never ? true : never = true;
void EVERY_FIELD_LISTED;

/**
 * One image with its glance_images row and tag keys, as one JSON array (the lookup every Glance GET runs): on SQLite
 * 55 columns as a row object cost 73 µs against 44 µs as a document parsed, and the tags came by a statement of their own.
 */
function lookupDocument(postgres: boolean): string {
  const { array, list, nested } = jsonSql(postgres);
  const tags = nested(`select ${list('t.tag_key', ' order by t.tag_key')} from tags t where t.resource_type = 'image' and t.resource_id = i.id`);
  const doc = array([...IMAGE_COLUMNS.map((c) => `i.${c}`), ...GLANCE_FIELDS.map((c) => `g.${c}`), tags]);
  return postgres ? `${doc}::text` : doc;
}
const LOOKUP_DOCUMENTS = { sqlite: lookupDocument(false), postgres: lookupDocument(true) };

/**
 * The select expression of an image's document over `images i LEFT JOIN glance_images g`; `fromDocument` reads it. A
 * listing selects it too: a page of 100 as row objects of 55 columns, and its tags by a statement of their own, cost
 * more than the documents parsed.
 */
export function glanceDocument(db: Kysely<any>): RawBuilder<string> {
  return sql<string>`${sql.raw(LOOKUP_DOCUMENTS[dialectOf(db)])}`;
}
const ALL_IMAGES = sql<ImageRow>`${sql.table('images')}`.as('i');
const withDocument = (db: Kysely<Database>, images: AliasedRawBuilder<ImageRow, 'i'> = ALL_IMAGES) => db.selectFrom(images).leftJoin('glance_images as g', 'g.image_id', 'i.id').select(glanceDocument(db).as('doc'));
const lookup = prepared((db: Kysely<Database>, region: string, id: string) => withDocument(db).where('i.region', '=', region).where('i.id', '=', id));
const byIds = prepared((db: Kysely<Database>, ids: string[]) => withDocument(db).where('i.id', 'in', ids));
const glanceRow = rowBuilder<GlanceImageRow>(GLANCE_FIELDS);

export interface GlanceFound { image: ImageRow; glance: GlanceImageRow | undefined; tags: string[] }

export function fromDocument(doc: string): GlanceFound {
  const values = JSON.parse(doc) as Values;
  const glance = values.slice(IMAGE_COLUMNS.length, IMAGE_COLUMNS.length + GLANCE_FIELDS.length);
  return { image: imageRow(values), glance: glance[0] == null ? undefined : glanceRow(glance), tags: values.at(-1) as string[] };
}

/** The image `id` of `region` with its glance_images row and its tag keys in order; undefined when there is no such image. */
export async function imageWithGlanceRow(db: Kysely<Database>, region: string, id: string): Promise<GlanceFound | undefined> {
  const [found] = await lookup(db, region, id);
  return found && fromDocument(found.doc);
}

/** Glance GET's lookup by ID (`Services.glanceLookups`). */
export type GlanceLookups = (region: string, id: string) => Promise<GlanceFound | undefined>;

/** The images of one region named by a JSON array of IDs, each as lookupDocument's document (PostgreSQL). */
const lookupMany = prepared((db: Kysely<Database>, region: string, ids: string) => withDocument(db, rowsByKeys<ImageRow>('images', 'id', ids).as('i')).where('i.region', '=', region));

/**
 * On PostgreSQL the lookups of concurrent requests run as one statement (store/group.ts, as DescribeImages' by-ID
 * lookups do: services/images/lookups.ts); on SQLite each runs alone, with no round trip to save.
 */
export function glanceLookups(db: Kysely<Database>, dialect: Dialect): GlanceLookups {
  if (dialect === 'sqlite') return (region, id) => imageWithGlanceRow(db, region, id);
  const many = grouped(async (asked: { region: string; id: string }[]): Promise<(GlanceFound | undefined)[]> => {
    const found = new Map<string, GlanceFound>();
    const regions = new Set(asked.map((a) => a.region));
    await Promise.all([...regions].map(async (region) => {
      const ids = [...new Set(asked.filter((a) => a.region === region).map((a) => a.id))];
      for (const row of await lookupMany(db, region, JSON.stringify(ids))) {
        const one = fromDocument(row.doc);
        found.set(`${region}/${one.image.id}`, one);
      }
    }));
    return asked.map((a) => found.get(`${a.region}/${a.id}`));
  });
  return (region, id) => many({ region, id });
}

/** These images (any region, any order; unknown ids are left out) with their glance_images rows and tag keys. */
export async function imagesWithGlanceRows(db: Kysely<Database>, ids: string[]): Promise<GlanceFound[]> {
  return ids.length ? (await byIds(db, ids)).map((row) => fromDocument(row.doc)) : [];
}
