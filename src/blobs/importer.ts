/**
 * Disk → manifest. Each 4 MiB chunk is zero-checked, hashed (worker pool), announced to the index in
 * batches (`touch`), and uploaded only when the index has no live copy. At most `maxInFlight` chunk
 * buffers are held at once. Before returning, the store is flushed and the uploaded rows marked live,
 * so the manifest can be committed (ManifestRepo.commit) and survives a crash.
 */
import type { ChunkEntry, ChunkIndex, ChunkRef, ChunkStore, Manifest, UploadTickets } from './types.ts';
import { CHUNK_SIZE, chunkCount, chunkLength, isAllZero, maskToHex } from '../domain/disk.ts';
import type { ChunkFill, DiskReader, ReadChunk } from '../formats/types.ts';
import type { ChunkHasher, HashedChunk } from './hash-pool.ts';
import { ChunkCorruptError, ChunkNotLiveError } from './errors.ts';
import { createLimiter } from './limit.ts';
import { sha256Ref } from './refs.ts';
import type { ChunkBufferPool } from '../formats/buffer-pool.ts';
import { patchManifest, zeroManifest, type ManifestRepo } from './manifests.ts';

export interface ImportDeps {
  store: ChunkStore;
  index: ChunkIndex;
  region: string;
  hashPool: ChunkHasher;
}

export interface ImportOptions {
  onProgress?(doneBytes: number, totalBytes: number): void;
  signal?: AbortSignal;
  /** Chunk buffers held at once (reading, hashing, waiting for touch, uploading). Default 8. */
  maxInFlight?: number;
  /** Largest touch batch (also capped at half of maxInFlight). Default 64. */
  touchBatch?: number;
  /**
   * Where the reader got its chunk buffers: each one is released here once stored (or found to be a
   * duplicate or all zero), so the reader can reuse it.
   */
  buffers?: Pick<ChunkBufferPool, 'release'>;
}

export interface ImportStats {
  chunks: number;
  /** Chunks the reader reported as unallocated or that held only zeros: stored as null. */
  zeroChunks: number;
  /** Chunks whose bytes were uploaded by this import. */
  uploadedChunks: number;
  uploadedBytes: number;
}

/**
 * Imports a whole disk. The reader hands over each chunk's Buffer: it may be transferred to a hash
 * worker, so the reader must not reuse it. Re-importing the same disk uploads nothing.
 */
export async function importDisk(reader: DiskReader, deps: ImportDeps, opts: ImportOptions = {}): Promise<Manifest> {
  return (await importDiskWithStats(reader, deps, opts)).manifest;
}

export async function importDiskWithStats(
  reader: DiskReader,
  deps: ImportDeps,
  opts: ImportOptions = {},
): Promise<{ manifest: Manifest; stats: ImportStats }> {
  // Only chunks with data are recorded: a manifest lists nothing for zero chunks.
  const stored = new Map<number, ChunkEntry>();
  const stats = await storeChunks(reader.chunks(), reader.virtualSize, (i, e) => {
    if (e) stored.set(i, e);
  }, deps, opts);
  return { manifest: patchManifest(zeroManifest(reader.virtualSize), stored), stats };
}

/**
 * The import pipeline: calls `record(index, entry)` for every chunk `source` yields (null when the chunk
 * is all zero). Shared by importDisk, writeRange and storeAndDigest. `virtualSize` is undefined for a stream
 * whose length is known only at its end: every chunk but the last must then be whole, which the caller ensures.
 */
export async function storeChunks(
  source: AsyncIterable<ReadChunk>,
  virtualSize: number | undefined,
  record: (index: number, entry: ChunkEntry | null) => void,
  deps: ImportDeps,
  opts: ImportOptions = {},
): Promise<ImportStats> {
  const count = virtualSize === undefined ? Infinity : chunkCount(virtualSize);
  const { store, index, region, hashPool } = deps;
  const readAndHash = (data: Buffer, fill: ChunkFill) => {
    if (!hashPool.readAndHash) throw new Error('internal: a deferred chunk reached a hasher that cannot read it');
    return hashPool.readAndHash(data, fill);
  };
  const maxInFlight = opts.maxInFlight ?? 8;
  // Touch as soon as half the buffers wait for it, or nothing else is being hashed.
  const touchBatch = Math.min(opts.touchBatch ?? 64, Math.max(1, Math.floor(maxInFlight / 2)));
  const slots = createLimiter(maxInFlight);
  const stats: ImportStats = { chunks: 0, zeroChunks: 0, uploadedChunks: 0, uploadedBytes: 0 };
  const tickets: UploadTickets = new Map();
  const waitingForTouch: { index: number; hashed: HashedChunk }[] = [];
  const tasks = new Set<Promise<void>>();
  let hashing = 0;
  let touching = false;
  let inputDone = false;
  let failure: unknown;
  let doneBytes = 0;

  let wakeOnFailure!: () => void;
  const failed = new Promise<false>((resolve) => (wakeOnFailure = () => resolve(false)));
  const fail = (err: unknown) => {
    failure ??= err;
    wakeOnFailure();
  };
  const track = (p: Promise<void>) => {
    const t = p.catch(fail).finally(() => tasks.delete(t));
    tasks.add(t);
  };
  const done = (data: Buffer) => opts.buffers?.release(data);
  const progress = (bytes: number) => {
    doneBytes += bytes;
    opts.onProgress?.(doneBytes, virtualSize ?? doneBytes);
  };

  // One touch at a time; whatever piles up meanwhile goes into the next batch.
  const maybeTouch = () => {
    if (touching || waitingForTouch.length === 0 || failure !== undefined) return;
    if (waitingForTouch.length < touchBatch && hashing > 0 && !inputDone) return;
    const batch = waitingForTouch.splice(0, touchBatch);
    touching = true;
    track(
      touchAndUpload(batch).finally(() => {
        touching = false;
        maybeTouch();
      }),
    );
  };

  const touchAndUpload = async (batch: { index: number; hashed: HashedChunk }[]) => {
    const sizes = new Map(batch.map((b) => [b.hashed.ref, b.hashed.data.length]));
    const upload = await index.touch(region, batch.map((b) => b.hashed.ref), sizes);
    for (const { hashed } of batch) {
      const ticket = upload.get(hashed.ref);
      // Keep the first ticket: if a row was collected and re-created meanwhile, markStored must fail.
      if (ticket === undefined || tickets.has(hashed.ref)) {
        slots.release();
        progress(hashed.data.length);
        done(hashed.data);
        continue;
      }
      tickets.set(hashed.ref, ticket);
      track(
        store
          .put(hashed.ref, hashed.data)
          .then(() => {
            stats.uploadedChunks++;
            stats.uploadedBytes += hashed.data.length;
            progress(hashed.data.length);
            done(hashed.data);
          })
          .finally(() => slots.release()),
      );
    }
  };

  const zeroChunk = (idx: number, length: number, data: Buffer | null) => {
    record(idx, null);
    stats.zeroChunks++;
    slots.release();
    progress(length);
    if (data !== null) done(data);
  };

  // A deferred chunk (`fill`) is read by the hasher, which finds out only then that it may be all zero.
  const hashOne = async (idx: number, data: Buffer, fill: ChunkFill | undefined) => {
    hashing++;
    let hashed: HashedChunk | null;
    try {
      hashed = fill ? await readAndHash(data, fill) : await hashPool.hash(data);
    } catch (err) {
      slots.release();
      throw err;
    } finally {
      hashing--;
    }
    if (hashed === null) zeroChunk(idx, data.length, data);
    else {
      record(idx, { ref: hashed.ref, zeroMap: maskToHex(hashed.zeroMask) });
      waitingForTouch.push({ index: idx, hashed });
    }
    maybeTouch();
  };

  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      // Chunks waiting for a touch hold slots; if that touch failed, only the failure wakes us.
      const acquired = await Promise.race([slots.acquire().then(() => true), failed]);
      if (!acquired) break;
      if (failure !== undefined) {
        slots.release();
        break;
      }
      opts.signal?.throwIfAborted();
      const next = await it.next();
      if (next.done) {
        slots.release();
        break;
      }
      const { index: idx, data, fill } = next.value;
      if (virtualSize === undefined && (data === null || data.length === 0 || data.length > CHUNK_SIZE)) throw new RangeError(`stream chunk ${idx} has ${data?.length ?? 'no'} bytes`);
      const want = virtualSize === undefined ? data!.length : chunkLength(virtualSize, idx);
      if (!(Number.isInteger(idx) && idx >= 0 && idx < count)) throw new RangeError(`reader yielded chunk ${idx} of ${count}`);
      stats.chunks++;
      if (data !== null && data.length !== want) throw new RangeError(`chunk ${idx} has ${data.length} bytes, expected ${want}`);
      if (data === null || (!fill && isAllZero(data))) {
        zeroChunk(idx, want, data);
        continue;
      }
      track(hashOne(idx, data, fill));
    }
  } catch (err) {
    fail(err);
    await it.return?.().catch(() => {});
  } finally {
    inputDone = true;
    maybeTouch();
  }
  while (tasks.size > 0) {
    await Promise.all([...tasks]);
    maybeTouch();
  }
  if (failure !== undefined) throw failure;

  await store.flush();
  const lost = await index.markStored(region, tickets);
  if (lost.length > 0) throw new ChunkNotLiveError(lost);
  return stats;
}

export interface CopyOptions {
  signal?: AbortSignal;
  concurrency?: number;
  batch?: number;
  /** Chunk buffers to read into (aligned: read and written with O_DIRECT by a fs store). */
  buffers?: ChunkBufferPool;
  /** Where the bytes are re-hashed (default this thread). */
  hashPool?: ChunkHasher;
}

export interface CopyTarget {
  store: ChunkStore;
  index: ChunkIndex;
  region: string;
}

/**
 * Makes every chunk of `manifest` present and live in the target region, transferring only what it
 * lacks (bytes are re-hashed on the way). Returns the bytes moved. Commit the manifest there afterwards.
 */
export async function copyChunks(
  manifest: Manifest,
  from: ChunkStore,
  to: CopyTarget,
  opts: CopyOptions = {},
): Promise<number> {
  const sizes = new Map<ChunkRef, number>();
  for (const e of manifest.entries) if (!sizes.has(e.ref)) sizes.set(e.ref, chunkLength(manifest.virtualSize, e.index));
  const refs = [...sizes.keys()];
  const batch = opts.batch ?? 256;
  const limit = createLimiter(opts.concurrency ?? 8);
  const tickets: UploadTickets = new Map();
  let moved = 0;
  for (let i = 0; i < refs.length; i += batch) {
    opts.signal?.throwIfAborted();
    const upload = await to.index.touch(to.region, refs.slice(i, i + batch), sizes);
    await Promise.all(
      [...upload].map(([ref, ticket]) =>
        limit.run(async () => {
          opts.signal?.throwIfAborted();
          const into = opts.buffers?.acquire(CHUNK_SIZE);
          try {
            const read = await from.get(ref, into);
            if (read.length !== sizes.get(ref)) throw new ChunkCorruptError(ref, 'content does not match its ref');
            // A worker may take a buffer of its own by transfer: `data` is the one to use afterwards.
            const { ref: actual, data } = opts.hashPool ? await opts.hashPool.hash(read) : { ref: sha256Ref(read), data: read };
            if (actual !== ref) throw new ChunkCorruptError(ref, 'content does not match its ref');
            await to.store.put(ref, data);
            tickets.set(ref, ticket);
            moved += data.length;
          } finally {
            if (into) opts.buffers!.release(into);
          }
        }),
      ),
    );
  }
  await to.store.flush();
  const lost = await to.index.markStored(to.region, tickets);
  if (lost.length > 0) throw new ChunkNotLiveError(lost);
  return moved;
}

/** How often copyManifest runs a copy again after GC collected some of its chunks before the commit. */
export const COPY_ATTEMPTS = 5;

/**
 * Copies `manifest`'s chunks into the target region and commits it there under `id`. A copy that outlasts the
 * GC grace period can lose chunks between their touch and the commit (unreferenced, so collectable). The copy
 * then runs again: that touches every chunk anew and uploads only the collected ones, so the commit follows
 * the touch closely. Gives up (ChunkNotLiveError, nothing committed) after `attempts` tries.
 */
export async function copyManifest(
  manifest: Manifest,
  from: ChunkStore,
  to: CopyTarget & { manifests: ManifestRepo },
  opts: CopyOptions & { id: string; attempts?: number },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await copyChunks(manifest, from, to, opts);
      await to.manifests.commit(to.region, manifest, { id: opts.id });
      return;
    } catch (e) {
      if (!(e instanceof ChunkNotLiveError) || attempt >= (opts.attempts ?? COPY_ATTEMPTS)) throw e;
    }
  }
}
