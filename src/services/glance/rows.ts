/**
 * An image row with its glance_images row read by one statement: the `glance_images` columns come prefixed `g_`
 * (NULL when the image has none, such as an image made through ECS), and `splitRow` takes them apart again.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, GlanceImageRow, ImageRow } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';
import { IMAGE_COLUMNS } from '../images/views-query.ts';

/** Every column of `glance_images` (the compiler checks the list against GlanceImageRow), so a split row is whole. */
const GLANCE_FIELDS = ['image_id', 'disk_format', 'container_format', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram',
  'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'file_manifest_id', 'phase', 'stage_path', 'stage_node', 'properties', 'locations',
] as const satisfies readonly (keyof GlanceImageRow)[];
const EVERY_FIELD_LISTED: Exclude<keyof GlanceImageRow, (typeof GLANCE_FIELDS)[number]> extends never ? true : never = true;
void EVERY_FIELD_LISTED;

const GLANCE_SELECTION = GLANCE_FIELDS.map((c) => sql.ref(`g.${c}`).as(`g_${c}`));

/** `g.<column> AS g_<column>` for every glance_images column, for a query over `images i LEFT JOIN glance_images g`. */
export const GLANCE_COLUMNS = sql.join(GLANCE_SELECTION);

export interface ImageWithGlance { image: ImageRow; glance: GlanceImageRow | undefined }

export function splitRow(row: Record<string, unknown>): ImageWithGlance {
  const image: Record<string, unknown> = {};
  const glance: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k.startsWith('g_')) glance[k.slice(2)] = v;
    else image[k] = v;
  }
  return { image: image as unknown as ImageRow, glance: glance.image_id == null ? undefined : (glance as unknown as GlanceImageRow) };
}

// The image's columns listed rather than `i.*`, so the statements below can be named statements (store/prepared.ts).
const IMAGE_SELECTION = IMAGE_COLUMNS.map((c) => `i.${c}` as const);
const withGlance = (db: Kysely<Database>) => db.selectFrom('images as i').leftJoin('glance_images as g', 'g.image_id', 'i.id').select(IMAGE_SELECTION).select(GLANCE_SELECTION);
const lookup = prepared((db: Kysely<Database>, region: string, id: string) => withGlance(db).where('i.region', '=', region).where('i.id', '=', id));
const byIds = prepared((db: Kysely<Database>, ids: string[]) => withGlance(db).where('i.id', 'in', ids));

/** The image `id` of `region` with its glance_images row ([] when there is no such image). */
export async function imageWithGlanceRow(db: Kysely<Database>, region: string, id: string): Promise<ImageWithGlance[]> {
  return (await lookup(db, region, id)).map((row) => splitRow(row as Record<string, unknown>));
}

/** These images (any region, any order; unknown ids are left out) with their glance_images rows. */
export async function imagesWithGlanceRows(db: Kysely<Database>, ids: string[]): Promise<ImageWithGlance[]> {
  return ids.length ? (await byIds(db, ids)).map((row) => splitRow(row as Record<string, unknown>)) : [];
}
