/**
 * Manifests: the body codec (sparse JSON `[[index, ref, zeroMapHex], ...]`), the repository that commits
 * them together with their chunk refcounts, and a VirtualDisk view over a manifest and a chunk store.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { hexToMask, chunkCount, chunkLength, type VirtualDisk } from '../domain/disk.ts';
import type { ChunkEntry, ChunkRef, ChunkStore, Manifest } from './types.ts';
import { isChunkRef } from './refs.ts';
import { ChunkCorruptError } from './errors.ts';
import { addRefsIn, releaseRefsIn, retrying } from './chunk-index.ts';

export function encodeManifestBody(m: Manifest): string {
  const rows: [number, ChunkRef, string][] = [];
  m.chunks.forEach((e, i) => {
    if (e) rows.push([i, e.ref, e.zeroMap]);
  });
  return JSON.stringify(rows);
}

export function decodeManifestBody(virtualSize: number, body: string): Manifest {
  if (!Number.isSafeInteger(virtualSize) || virtualSize < 0) throw new Error(`bad manifest virtual size ${virtualSize}`);
  const count = chunkCount(virtualSize);
  const chunks: (ChunkEntry | null)[] = new Array(count).fill(null);
  const rows: unknown = JSON.parse(body);
  if (!Array.isArray(rows)) throw new Error('manifest body is not a list');
  let last = -1;
  for (const row of rows) {
    const ok =
      Array.isArray(row) && row.length === 3 && Number.isInteger(row[0]) && row[0] > last && row[0] < count &&
      typeof row[1] === 'string' && isChunkRef(row[1]) && typeof row[2] === 'string' && /^[0-9a-f]{16}$/.test(row[2]);
    if (!ok) throw new Error(`bad manifest entry ${JSON.stringify(row)}`);
    chunks[row[0]] = { ref: row[1], zeroMap: row[2] };
    last = row[0];
  }
  return { virtualSize, chunks };
}

/** Every stored ref of a manifest, once per occurrence (refcounts count occurrences). */
export function manifestRefs(m: Manifest): ChunkRef[] {
  const refs: ChunkRef[] = [];
  for (const e of m.chunks) if (e) refs.push(e.ref);
  return refs;
}

export interface StoredManifest {
  id: string;
  region: string;
  manifest: Manifest;
  holders: number;
  createdAt: number;
}

export function newManifestId(): string {
  return 'mf-' + crypto.randomBytes(12).toString('hex');
}

export class ManifestRepo {
  private readonly now: () => number;

  constructor(private readonly db: Kysely<Database>, opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Inserts the manifest and adds its chunk refs in one transaction; returns its id (`mf-…`).
   * `holders` starts at 1: the caller is its first holder. Throws ChunkNotLiveError (nothing committed)
   * when a chunk is not live, e.g. because the import outlived the GC grace period.
   */
  async commit(region: string, manifest: Manifest, opts: { holders?: number; id?: string } = {}): Promise<string> {
    if (manifest.chunks.length !== chunkCount(manifest.virtualSize)) {
      throw new Error(`manifest has ${manifest.chunks.length} chunks for ${manifest.virtualSize} bytes`);
    }
    const holders = opts.holders ?? 1;
    if (!Number.isInteger(holders) || holders < 1) throw new RangeError('a committed manifest needs at least one holder');
    // A caller may choose the id up front (and checkpoint it) so that a crash right after the commit can be resumed.
    const id = opts.id ?? newManifestId();
    const body = encodeManifestBody(manifest);
    await retrying(() =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('manifests')
          .values({ id, region, virtual_size: manifest.virtualSize, body, holders, created_at: this.now() })
          .execute();
        await addRefsIn(trx, region, manifestRefs(manifest));
      }),
    );
    return id;
  }

  async load(id: string): Promise<StoredManifest | undefined> {
    const row = await this.db.selectFrom('manifests').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      region: row.region,
      manifest: decodeManifestBody(Number(row.virtual_size), row.body),
      holders: row.holders,
      createdAt: Number(row.created_at),
    };
  }

  /** One more holder (a snapshot, image or disk now points at it). False when the manifest is gone. */
  async hold(id: string): Promise<boolean> {
    const res = await this.db
      .updateTable('manifests')
      .set((eb) => ({ holders: eb('holders', '+', 1) }))
      .where('id', '=', id)
      .where('holders', '>', 0)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** One holder fewer; the last release deletes the manifest and releases its chunk refs. Returns holders left. */
  async release(id: string): Promise<number> {
    return retrying(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('manifests')
          .set((eb) => ({ holders: eb('holders', '-', 1) }))
          .where('id', '=', id)
          .where('holders', '>', 0)
          .returning(['holders', 'region', 'virtual_size', 'body'])
          .executeTakeFirst();
        if (!row) return 0;
        if (row.holders > 0) return row.holders;
        await trx.deleteFrom('manifests').where('id', '=', id).execute();
        const m = decodeManifestBody(Number(row.virtual_size), row.body);
        await releaseRefsIn(trx, row.region, manifestRefs(m), this.now());
        return 0;
      }),
    );
  }
}

/** The manifest's virtual disk, reading chunk bytes from `store` and checking each one's length. */
export function manifestDisk(manifest: Manifest, store: ChunkStore): VirtualDisk {
  const count = chunkCount(manifest.virtualSize);
  return {
    virtualSize: manifest.virtualSize,
    chunkCount: count,
    zeroMask(index) {
      const e = entryAt(manifest, index);
      return e ? hexToMask(e.zeroMap) : null;
    },
    async readChunk(index) {
      const e = entryAt(manifest, index);
      if (!e) return null;
      const data = await store.get(e.ref);
      const want = chunkLength(manifest.virtualSize, index);
      if (data.length !== want) throw new ChunkCorruptError(e.ref, `${data.length} bytes, chunk ${index} needs ${want}`);
      return data;
    },
  };
}

function entryAt(m: Manifest, index: number): ChunkEntry | null {
  if (!Number.isInteger(index) || index < 0 || index >= m.chunks.length) throw new RangeError(`chunk index ${index} out of range`);
  return m.chunks[index];
}
