/**
 * Object storage behind buckets (the service's stand-in for OSS). Two backends: a folder per bucket under
 * `<dataDir>/buckets/` (default), or real S3 buckets of the same name on the S3-compatible endpoint the
 * chunk store is configured with. Bucket rows (owner, region) live in the metadata store (repo.ts);
 * this layer only moves bytes, and every key it receives has passed `checkObjectKey`. `app.ts` picks the backend.
 */
import type { Readable } from 'node:stream';
import type { ClosableByteSource } from '../../formats/index.ts';
import type { ChunkBufferPool } from '../../formats/buffer-pool.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Epoch ms. */
  lastModified: number;
}

export interface ObjectListing {
  objects: ObjectInfo[];
  /** More keys follow the last one returned. */
  truncated: boolean;
}

/**
 * An object's content: a stream of bytes, or something that can also write itself into a local file
 * (an export writes raw disks there as sparse files instead of streaming their zeros), through the store's
 * reused staging buffers.
 */
export type ObjectBody =
  | AsyncIterable<Uint8Array>
  | { writeFile(path: string, staging: ChunkBufferPool): Promise<unknown>; stream(): AsyncIterable<Uint8Array> };

/**
 * Which version of an object's content this is: the folder backend's device, inode, size, modification and change
 * times in ns; S3's ETag, size and Last-Modified. Two reads with the same `id` saw the same bytes when `settled`.
 */
export interface ObjectVersion {
  id: string;
  /**
   * A later change of the content changes `id`. False when the object changed so recently that a write within
   * the same timestamp tick could leave `id` as it is (folder backend): then nothing may be remembered by it.
   */
  settled: boolean;
}

/** An object opened for import, with the version whose bytes it reads. */
export type ObjectSource = ClosableByteSource & { version: ObjectVersion };

export interface PutOptions {
  signal?: AbortSignal;
  /**
   * Base name of the temp file the folder backend writes before the rename (default random), so a job can
   * find and remove what an attempt that crashed left behind.
   */
  tempName?: string;
}

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** Creates the bucket's storage. Throws BucketAlreadyExists when storage of that name exists already. */
  createBucket(bucket: string): Promise<void>;
  /**
   * Writes `body` as the object. Readers never see a partial object under `key`: it appears only once
   * complete and durable (a crash leaves either the old object or none).
   */
  put(bucket: string, key: string, body: ObjectBody, opts?: PutOptions): Promise<{ size: number }>;
  head(bucket: string, key: string): Promise<ObjectInfo | undefined>;
  /** The object's bytes as a stream; throws NoSuchKey. */
  get(bucket: string, key: string): Promise<{ size: number; body: Readable }>;
  /**
   * The object's bytes as a sparse body (formats/sparse-body.ts) without its zero blocks: the folder backend reads
   * only the file's data extents, S3's bytes are streamed and their zero blocks left out. Throws NoSuchKey.
   */
  getSparse(bucket: string, key: string): Promise<{ size: number; body: AsyncIterable<Buffer> }>;
  /** Keys in lexical order, after `startAfter`, starting with `prefix`. */
  list(bucket: string, opts?: { prefix?: string; startAfter?: string; max?: number }): Promise<ObjectListing>;
  delete(bucket: string, key: string): Promise<void>;
  /**
   * Random access to the object for inspection and import: the file itself (fs), or a copy spooled to the
   * temp directory (S3) that `close()` removes. Throws NoSuchKey.
   */
  openSource(bucket: string, key: string, opts?: { signal?: AbortSignal }): Promise<ObjectSource>;
  /** The object's current version, without reading its bytes; throws NoSuchKey. */
  version(bucket: string, key: string): Promise<ObjectVersion>;
}
