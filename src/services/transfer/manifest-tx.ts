/**
 * Committing and releasing manifests inside a caller's transaction, so a job can commit a disk's manifest
 * in the same transaction as the checkpoint that records it (a crash leaves both or neither), and a job's
 * end can release what it held together with the row changes. Same rows and refcounts as ManifestRepo.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';
import type { Manifest } from '../../blobs/types.ts';
import { chunkCount } from '../../blobs/types.ts';
import { decodeManifestBody, encodeManifestBody, manifestRefs } from '../../blobs/manifests.ts';
import { addRefsIn, releaseRefsIn } from '../../blobs/chunk-index.ts';

export function newManifestId(): string {
  return 'mf-' + crypto.randomBytes(12).toString('hex');
}

/** Inserts the manifest with one holder and adds its chunk refs; throws ChunkNotLiveError when a chunk is gone. */
export async function commitManifestIn(trx: Kysely<Database>, id: string, region: string, manifest: Manifest, now: number): Promise<void> {
  if (manifest.chunks.length !== chunkCount(manifest.virtualSize)) throw new Error(`manifest has ${manifest.chunks.length} chunks for ${manifest.virtualSize} bytes`);
  await trx.insertInto('manifests')
    .values({ id, region, virtual_size: manifest.virtualSize, body: encodeManifestBody(manifest), holders: 1, created_at: now })
    .execute();
  await addRefsIn(trx, region, manifestRefs(manifest));
}

/** One holder fewer; the last release deletes the manifest and releases its chunk refs. */
export async function releaseManifestIn(trx: Kysely<Database>, id: string, now: number): Promise<void> {
  const row = await trx.updateTable('manifests').set((eb) => ({ holders: eb('holders', '-', 1) }))
    .where('id', '=', id).where('holders', '>', 0)
    .returning(['holders', 'region', 'virtual_size', 'body']).executeTakeFirst();
  if (!row || row.holders > 0) return;
  await trx.deleteFrom('manifests').where('id', '=', id).execute();
  await releaseRefsIn(trx, row.region, manifestRefs(decodeManifestBody(Number(row.virtual_size), row.body)), now);
}
