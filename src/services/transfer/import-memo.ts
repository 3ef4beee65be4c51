/**
 * What an import made of a bucket object, by the object's version (its identity in the object store: see
 * ObjectVersion). An import of an object whose version and declared format match a memo, while the memo's
 * manifest is alive, takes a hold on that manifest instead of reading and hashing every byte again.
 *
 * Correct on any node and either engine because a memo is only a hint: the hold is taken with `holders > 0` in
 * the transaction that attaches the manifest to the new snapshot (the lock order of the manifest sweep: the
 * manifest's row first), so a manifest freed meanwhile is never served, and manifest ids are never reused.
 * A manifest that is freed takes its memos with it (releaseManifestIn). Anything uncertain (an object that changed
 * moments ago, no ETag, a direct upload) is imported normally and not remembered.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import type { ImportFormat } from '../../formats/types.ts';
import type { ObjectVersion } from '../buckets/object-store.ts';
import type { ImportedDisk } from './kinds.ts';

export type RememberedImport = Pick<ImportedDisk, 'manifestId' | 'virtualSize' | 'format' | 'uniqueBytes'>;

/** The memo's key: the object's version and how it was asked to be read (the declared format changes the result). */
export function memoSource(version: ObjectVersion, declared: ImportFormat | undefined): string {
  return crypto.createHash('sha256').update(JSON.stringify([version.id, declared ?? ''])).digest('hex');
}

/** What an earlier import made of this source, if remembered; its manifest may be gone since (take a hold to know). */
export async function recalledImport(db: Kysely<Database>, region: string, source: string): Promise<RememberedImport | undefined> {
  const row = await db.selectFrom('import_memos').selectAll().where('region', '=', region).where('source', '=', source).executeTakeFirst();
  if (!row) return undefined;
  return { manifestId: row.manifest_id, virtualSize: Number(row.virtual_size), format: row.format as ImportFormat, uniqueBytes: Number(row.unique_bytes) };
}

/** Remembers (or replaces) what this source made, in the caller's transaction, which holds `made.manifestId`. */
export async function rememberImportIn(trx: Kysely<Database>, region: string, source: string, made: RememberedImport, now: number): Promise<void> {
  const row = { manifest_id: made.manifestId, format: made.format, virtual_size: made.virtualSize, unique_bytes: made.uniqueBytes, created_at: now };
  await trx.insertInto('import_memos').values({ region, source, ...row })
    .onConflict((oc) => oc.columns(['region', 'source']).doUpdateSet(row)).execute();
}
