/**
 * The chunk-storage contract: disks are manifests over content-addressed 4 MiB chunks (geometry in
 * domain/disk.ts). Formats (src/formats) produce and consume chunks; chunk stores (src/blobs) keep them.
 */

/** `sha256:<64 lower-case hex>` */
export type ChunkRef = string;

/**
 * One stored chunk in a manifest. `zeroMap` is 16 hex digits of a 64-bit mask:
 * bit i set means the 64 KiB block i of the chunk is all zero (so sparse exports need no re-read).
 */
export interface ChunkEntry {
  ref: ChunkRef;
  zeroMap: string;
}

/** A stored chunk of a manifest and where it sits: chunk `index` covers [index × CHUNK_SIZE, …). */
export interface ManifestEntry extends ChunkEntry {
  index: number;
}

/**
 * A virtual disk, sparse: its size plus the chunks that hold data, by ascending index. Every chunk not
 * listed is all zero, so a run of zero chunks costs nothing and an empty disk of any size has no entries.
 * The last chunk covers `virtualSize - index * CHUNK_SIZE` bytes when the size is not a multiple of 4 MiB.
 * Immutable once committed. Build and patch them with the helpers in manifests.ts.
 */
export interface Manifest {
  virtualSize: number;
  readonly entries: readonly ManifestEntry[];
}

/** Where chunk bytes live. One instance per region. Implementations: fs, s3. */
export interface ChunkStore {
  readonly kind: string;
  has(ref: ChunkRef): Promise<boolean>;
  /** Idempotent. The caller has hashed `data`; stores may verify. */
  put(ref: ChunkRef, data: Buffer): Promise<void>;
  /**
   * The chunk's bytes. With `into` (a chunk buffer of the data plane's pool, at least the chunk's length) a store may
   * read into it and return a view of it, which stays the caller's; a store may also ignore it.
   */
  get(ref: ChunkRef, into?: Buffer): Promise<Buffer>;
  delete(ref: ChunkRef): Promise<void>;
  /** Every stored ref, for the garbage collector and for audits. */
  list(): AsyncIterable<ChunkRef>;
  /** Make every completed `put` durable (batched fsync on fs; no-op where puts are durable). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Refs an import must upload, each mapped to the pending-state token `touch` saw or set; hand it back to
 * `markStored` once the uploads are durable.
 */
export type UploadTickets = Map<ChunkRef, string>;

/** Refs a collector claimed, and when. The time also identifies the claim: a re-claim is always later. */
export interface GarbageClaim {
  refs: ChunkRef[];
  claimedAt: number;
}

/**
 * Reference counts and GC state of chunks, kept in the metadata store (one row per region+ref).
 * See src/blobs/README.md for the protocol that keeps GC from deleting a chunk an import is about to use.
 */
export interface ChunkIndex {
  /** How long a GC claim is valid: a collector must not delete a claimed chunk's bytes after that. */
  readonly leaseMs: number;
  /**
   * Announce that `refs` are about to be referenced (resets their grace period). Returns the refs whose
   * bytes must be (re)uploaded because no live row existed. Waits while a GC is deleting one of them, and
   * takes over a deletion whose lease expired (its collector died).
   */
  touch(region: string, refs: ChunkRef[], sizes: Map<ChunkRef, number>): Promise<UploadTickets>;
  /** After the uploads are durable (store.flush): pending rows become live. Returns refs it could not mark. */
  markStored(region: string, tickets: UploadTickets): Promise<ChunkRef[]>;
  /** +1 per occurrence in a committed manifest. Throws ChunkNotLiveError (changing nothing) unless all are live. */
  addRefs(region: string, refs: ChunkRef[]): Promise<void>;
  /** -1 per occurrence when a manifest is dropped. */
  releaseRefs(region: string, refs: ChunkRef[]): Promise<void>;
  /**
   * Refs with refcount 0 last touched before `cutoff` (ms epoch), marked as deleting atomically, plus
   * deletions whose lease expired. The caller deletes their bytes before `claimedAt + leaseMs`, then
   * calls `forget`.
   */
  claimGarbage(region: string, cutoffMs: number, limit: number): Promise<GarbageClaim>;
  /**
   * Drop the rows of claimed refs whose bytes were deleted. Rows claimed again since (the lease expired
   * and another collector took them) are left to that collector.
   */
  forget(region: string, refs: ChunkRef[], claimedAt: number): Promise<void>;
  /**
   * Claims stored refs that have no row at all (bytes an import put after GC had collected its row) by
   * inserting `deleting` rows; returns the refs claimed. Delete and forget them like claimGarbage's.
   */
  claimOrphans(region: string, refs: ChunkRef[]): Promise<GarbageClaim>;
}
