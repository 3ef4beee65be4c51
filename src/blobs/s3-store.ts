/**
 * Chunks as S3 objects `<prefix>chunks/<2 hex>/<64 hex>` (Ceph RGW in production, s3rver in tests).
 * Checksums are WHEN_REQUIRED: the SDK default (aws-chunked bodies with trailing CRCs) fails on Ceph 16
 * and silently corrupts objects on s3rver. Chunks are content-addressed, so get() checks length here and
 * callers may re-hash.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ChunkRef, ChunkStore } from './types.ts';
import { CHUNK_SIZE } from '../domain/disk.ts';
import { refFromHex, refHex } from './refs.ts';
import { ChunkCorruptError, ChunkNotFoundError } from './errors.ts';
import { createLimiter, type Limiter } from './limit.ts';

export interface S3ChunkStoreConfig {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Key prefix, e.g. `cn-hangzhou/`; chunks go under `<prefix>chunks/`. */
  prefix?: string;
  /** Requests in flight per store (puts and gets). */
  concurrency?: number;
}

export type S3Endpoint = Pick<S3ChunkStoreConfig, 'endpoint' | 'region' | 'accessKeyId' | 'secretAccessKey'>;

/** A client for an S3-compatible endpoint (path-style, checksums only where the API requires them). */
export function createS3Client(cfg: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: cfg.endpoint,
    region: cfg.region,
    credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const KEY_RE = /chunks\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

export class S3ChunkStore implements ChunkStore {
  readonly kind = 's3';
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly base: string;
  private readonly limit: Limiter;

  private readonly ownsClient: boolean;

  /** With `client`, the store shares a client its owner closes; otherwise it makes and closes its own. */
  constructor(cfg: S3ChunkStoreConfig, client?: S3Client) {
    this.client = client ?? createS3Client(cfg);
    this.ownsClient = !client;
    this.bucket = cfg.bucket;
    this.base = (cfg.prefix ?? '') + 'chunks/';
    this.limit = createLimiter(cfg.concurrency ?? 8);
  }

  private keyOf(ref: ChunkRef): string {
    const hex = refHex(ref);
    return `${this.base}${hex.slice(0, 2)}/${hex}`;
  }

  /** Creates the bucket unless it exists (and is ours). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (status(err) !== 404) throw err;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if ((err as Error).name !== 'BucketAlreadyOwnedByYou') throw err;
    }
  }

  async has(ref: ChunkRef): Promise<boolean> {
    try {
      await this.limit.run(() => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(ref) })));
      return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw err;
    }
  }

  async put(ref: ChunkRef, data: Buffer): Promise<void> {
    const Key = this.keyOf(ref);
    await this.limit.run(() =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.length })),
    );
  }

  async get(ref: ChunkRef): Promise<Buffer> {
    const Key = this.keyOf(ref);
    return this.limit.run(async () => {
      let res;
      try {
        res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      } catch (err) {
        if (status(err) === 404) throw new ChunkNotFoundError(ref, `s3://${this.bucket}/${this.base}`);
        throw err;
      }
      const bytes = await res.Body!.transformToByteArray();
      const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (res.ContentLength !== undefined && res.ContentLength !== data.length) {
        throw new ChunkCorruptError(ref, `got ${data.length} of ${res.ContentLength} bytes`);
      }
      if (data.length === 0 || data.length > CHUNK_SIZE) throw new ChunkCorruptError(ref, `${data.length} bytes stored`);
      return data;
    });
  }

  async delete(ref: ChunkRef): Promise<void> {
    const Key = this.keyOf(ref);
    await this.limit.run(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })));
  }

  async *list(): AsyncIterable<ChunkRef> {
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base, ContinuationToken }),
      );
      for (const obj of page.Contents ?? []) {
        const m = obj.Key ? KEY_RE.exec(obj.Key) : null;
        if (m && m[2].startsWith(m[1]) && obj.Key === this.base + `${m[1]}/${m[2]}`) yield refFromHex(m[2]);
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** S3 puts are durable when they return. */
  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
