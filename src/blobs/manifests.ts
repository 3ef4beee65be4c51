/**
 * Manifests: sparse in memory and in rows (only the chunks that hold data, by ascending index; see
 * src/blobs/README.md), the body codec, the repository that commits them together with their chunk
 * refcounts, and a VirtualDisk view over a manifest and a chunk store. Nothing here walks every chunk of
 * a disk: the cost of a manifest follows the data it stores, never its virtual size.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { CHUNK_SIZE, hexToMask, chunkCount, chunkLength, type VirtualDisk } from '../domain/disk.ts';
import type { ClosableByteSource } from '../formats/index.ts';
import type { ChunkEntry, ChunkRef, ChunkStore, Manifest, ManifestEntry } from './types.ts';
import { isChunkRef } from './refs.ts';
import { ChunkCorruptError } from './errors.ts';
import { addRefsIn, releaseRefsIn, retrying } from './chunk-index.ts';

/** An all-zero disk of any size: no entries. */
export function zeroManifest(virtualSize: number): Manifest {
  checkVirtualSize(virtualSize);
  return { virtualSize, entries: [] };
}

function checkVirtualSize(virtualSize: number): void {
  if (!Number.isSafeInteger(virtualSize) || virtualSize < 0) throw new Error(`bad manifest virtual size ${virtualSize}`);
}

/** Throws unless `m`'s entries are ascending, inside the disk, and well-formed. */
export function checkManifest(m: Manifest): void {
  checkVirtualSize(m.virtualSize);
  const count = chunkCount(m.virtualSize);
  let last = -1;
  for (const e of m.entries) {
    if (!(Number.isInteger(e.index) && e.index > last && e.index < count && isChunkRef(e.ref) && /^[0-9a-f]{16}$/.test(e.zeroMap))) {
      throw new Error(`bad manifest entry ${JSON.stringify(e)} for a ${m.virtualSize}-byte disk`);
    }
    last = e.index;
  }
}

/** The stored row body: `[[index, ref, zeroMapHex], ...]`, ascending; zero chunks are left out. */
export function encodeManifestBody(m: Manifest): string {
  return JSON.stringify(m.entries.map((e) => [e.index, e.ref, e.zeroMap]));
}

export function decodeManifestBody(virtualSize: number, body: string): Manifest {
  checkVirtualSize(virtualSize);
  const count = chunkCount(virtualSize);
  const rows: unknown = JSON.parse(body);
  if (!Array.isArray(rows)) throw new Error('manifest body is not a list');
  const entries: ManifestEntry[] = new Array(rows.length);
  let last = -1;
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k];
    const ok =
      Array.isArray(row) && row.length === 3 && Number.isInteger(row[0]) && row[0] > last && row[0] < count &&
      typeof row[1] === 'string' && isChunkRef(row[1]) && typeof row[2] === 'string' && /^[0-9a-f]{16}$/.test(row[2]);
    if (!ok) throw new Error(`bad manifest entry ${JSON.stringify(row)}`);
    entries[k] = { index: row[0], ref: row[1], zeroMap: row[2] };
    last = row[0];
  }
  return { virtualSize, entries };
}

/** Every stored ref of a manifest, once per occurrence (refcounts count occurrences). */
export function manifestRefs(m: Manifest): ChunkRef[] {
  return m.entries.map((e) => e.ref);
}

/** Position of the first entry with index ≥ `index` (binary search). */
function lowerBound(entries: readonly ManifestEntry[], index: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].index < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Chunk `index`'s entry, or null when the chunk is all zero. */
export function manifestEntry(m: Manifest, index: number): ChunkEntry | null {
  if (!Number.isInteger(index) || index < 0 || index >= chunkCount(m.virtualSize)) throw new RangeError(`chunk index ${index} out of range`);
  const at = lowerBound(m.entries, index);
  const e = m.entries[at];
  return e && e.index === index ? e : null;
}

/** The entries with index in [from, to), ascending. */
export function entriesBetween(m: Manifest, from: number, to: number): readonly ManifestEntry[] {
  return m.entries.slice(lowerBound(m.entries, from), lowerBound(m.entries, to));
}

/**
 * A new manifest of `virtualSize` bytes: `m`'s entries below the new chunk count, with `updates` applied
 * (an entry stores the chunk, null makes it zero). Costs O(entries + updates), whatever the size.
 */
export function patchManifest(m: Manifest, updates: ReadonlyMap<number, ChunkEntry | null>, virtualSize = m.virtualSize): Manifest {
  checkVirtualSize(virtualSize);
  const count = chunkCount(virtualSize);
  const changed = [...updates.keys()].sort((x, y) => x - y);
  for (const i of changed) if (!Number.isInteger(i) || i < 0 || i >= count) throw new RangeError(`chunk index ${i} out of range`);
  const out: ManifestEntry[] = [];
  let k = 0;
  const keep = (e: ManifestEntry) => {
    if (e.index < count) out.push(e);
  };
  for (const e of m.entries) {
    while (k < changed.length && changed[k] < e.index) {
      const u = updates.get(changed[k])!;
      if (u) out.push({ index: changed[k], ref: u.ref, zeroMap: u.zeroMap });
      k++;
    }
    if (k < changed.length && changed[k] === e.index) {
      const u = updates.get(changed[k])!;
      if (u) out.push({ index: e.index, ref: u.ref, zeroMap: u.zeroMap });
      k++;
    } else keep(e);
  }
  for (; k < changed.length; k++) {
    const u = updates.get(changed[k])!;
    if (u) out.push({ index: changed[k], ref: u.ref, zeroMap: u.zeroMap });
  }
  return { virtualSize, entries: out };
}

/** Indices of the chunks that hold data, ascending. */
export function dataChunkIndices(m: Manifest): number[] {
  return m.entries.map((e) => e.index);
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
    checkManifest(manifest);
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

  /**
   * Commits several manifests in one transaction (rows inserted in batches), each with one holder; returns
   * their ids in order. For launches that create many disks at once: one round trip instead of one each.
   */
  async commitMany(region: string, manifests: readonly Manifest[]): Promise<string[]> {
    for (const m of manifests) checkManifest(m);
    const ids = manifests.map(() => newManifestId());
    if (manifests.length === 0) return ids;
    const now = this.now();
    const rows = manifests.map((m, k) => ({ id: ids[k], region, virtual_size: m.virtualSize, body: encodeManifestBody(m), holders: 1, created_at: now }));
    await retrying(() =>
      this.db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += 500) await trx.insertInto('manifests').values(rows.slice(i, i + 500)).execute();
        await addRefsIn(trx, region, manifests.flatMap(manifestRefs));
      }),
    );
    return ids;
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

  /** `count` more holders (snapshots, images or disks now point at it). False when the manifest is gone. */
  async hold(id: string, count = 1): Promise<boolean> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`bad hold count ${count}`);
    const res = await this.db
      .updateTable('manifests')
      .set((eb) => ({ holders: eb('holders', '+', count) }))
      .where('id', '=', id)
      .where('holders', '>', 0)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** One holder fewer; the last release deletes the manifest and releases its chunk refs. Returns holders left. */
  async release(id: string): Promise<number> {
    return retrying(() => this.db.transaction().execute((trx) => releaseManifestIn(trx, id, this.now())));
  }
}

/**
 * Locks manifest `id` in the caller's transaction, which is about to point a snapshot or disk at it under a hold
 * the caller already owns (a job's commit). The manifest sweep locks the same row before it re-checks, so either
 * this lock comes first and the sweep sees the attach, or the sweep's release comes first and this finds no
 * manifest. False when the manifest is gone: the caller must commit it again (its chunks may be garbage by now).
 */
export async function lockManifestIn(trx: Kysely<Database>, id: string): Promise<boolean> {
  const res = await trx.updateTable('manifests').set((eb) => ({ holders: eb.ref('holders') })).where('id', '=', id).where('holders', '>', 0).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** One holder fewer, inside the caller's transaction; the last release deletes the manifest and releases its chunk refs. Returns holders left. */
export async function releaseManifestIn(trx: Kysely<Database>, id: string, now: number): Promise<number> {
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
  // What imports remembered making this manifest goes with it (a memo never serves a freed manifest anyway).
  await trx.deleteFrom('import_memos').where('manifest_id', '=', id).execute();
  await releaseRefsIn(trx, row.region, manifestRefs(decodeManifestBody(Number(row.virtual_size), row.body)), now);
  return 0;
}

/** The manifest's virtual disk, reading chunk bytes from `store` and checking each one's length. */
export function manifestDisk(manifest: Manifest, store: ChunkStore): VirtualDisk {
  return {
    virtualSize: manifest.virtualSize,
    chunkCount: chunkCount(manifest.virtualSize),
    dataChunks: () => dataChunkIndices(manifest),
    zeroMask(index) {
      const e = manifestEntry(manifest, index);
      return e ? hexToMask(e.zeroMap) : null;
    },
    async readChunk(index, into) {
      const e = manifestEntry(manifest, index);
      if (!e) return null;
      const data = await store.get(e.ref, into);
      const want = chunkLength(manifest.virtualSize, index);
      if (data.length !== want) throw new ChunkCorruptError(e.ref, `${data.length} bytes, chunk ${index} needs ${want}`);
      return data;
    },
  };
}

/** Chunks a manifestSource keeps read: the inspector's and readers' reads cluster in a few places at a time. */
const SOURCE_CACHE_CHUNKS = 4;

/**
 * The manifest's bytes as a random-access source (committed or not, e.g. an upload being inspected), reading
 * whole chunks from `store` and keeping the last few it read.
 */
export function manifestSource(manifest: Manifest, store: ChunkStore): ClosableByteSource {
  const disk = manifestDisk(manifest, store);
  const size = manifest.virtualSize;
  const cache = new Map<number, Promise<Buffer | null>>();
  const chunk = (index: number): Promise<Buffer | null> => {
    let p = cache.get(index);
    if (p) cache.delete(index);
    else {
      p = disk.readChunk(index);
      p.catch(() => cache.delete(index));
    }
    cache.set(index, p);
    if (cache.size > SOURCE_CACHE_CHUNKS) cache.delete(cache.keys().next().value!);
    return p;
  };
  return {
    size,
    async read(buf, offset, length, position) {
      if (position >= size || length <= 0) return 0;
      const index = Math.floor(position / CHUNK_SIZE);
      const at = position - index * CHUNK_SIZE;
      const n = Math.min(length, chunkLength(size, index) - at);
      const data = await chunk(index);
      if (data) data.copy(buf, offset, at, at + n);
      else buf.fill(0, offset, offset + n);
      return n;
    },
    close: async () => cache.clear(),
  };
}
