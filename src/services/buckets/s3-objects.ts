/**
 * Buckets as S3 buckets of the same name on the configured S3-compatible endpoint, so any S3 tool can put
 * and get their objects too. Puts are multipart uploads: an object appears only when the upload completes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { apiError } from '../../domain/errors.ts';
import { openFileSource } from '../../formats/index.ts';
import { sparseBody, writeSparseFile, type SparsePiece } from '../../formats/sparse-body.ts';
import type { ObjectBody, ObjectInfo, ObjectListing, ObjectSource, ObjectStore, ObjectVersion, PutOptions } from './object-store.ts';

const PART_SIZE = 16 * 1024 * 1024;

/** An object's pieces with the offsets they start at; raises when the stream does not hold its `size` bytes. */
async function* atOffsets(body: AsyncIterable<Uint8Array>, size: number, what: string): AsyncIterable<SparsePiece> {
  let offset = 0;
  for await (const data of body) {
    if (offset + data.byteLength > size) throw new Error(`S3 sent more than the ${size} bytes of ${what}`);
    yield { offset, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
    offset += data.byteLength;
  }
  if (offset !== size) throw new Error(`S3 sent ${offset} of the ${size} bytes of ${what}`);
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function missing(err: unknown, what: 'bucket' | 'key'): Error {
  const name = (err as Error)?.name;
  if (name === 'NoSuchBucket') return apiError('NoSuchBucket');
  if (status(err) === 404 || name === 'NoSuchKey' || name === 'NotFound') return apiError(what === 'bucket' ? 'NoSuchBucket' : 'NoSuchKey');
  return err as Error;
}

/**
 * An S3 object's version: every put makes a new object with its own ETag (the MD5 of its bytes, or of its parts),
 * so the ETag with the size and Last-Modified names the bytes. Without an ETag nothing may be remembered by it.
 */
function s3Version(bucket: string, key: string, res: { ETag?: string; ContentLength?: number; LastModified?: Date }): ObjectVersion {
  return { id: ['s3', bucket, key, res.ETag ?? '', res.ContentLength ?? '', res.LastModified?.getTime() ?? ''].join(':'), settled: Boolean(res.ETag) };
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';

  constructor(private readonly client: S3Client, private readonly tmpDir: string) {}

  async createBucket(bucket: string): Promise<void> {
    // Storage we did not create (the chunk store's bucket, someone else's) is never adopted.
    const exists = await this.client.send(new HeadBucketCommand({ Bucket: bucket })).then(
      () => true,
      (err) => (status(err) === 404 ? false : status(err) === 403 ? true : Promise.reject(err)),
    );
    if (exists) throw apiError('BucketAlreadyExists');
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') throw apiError('BucketAlreadyExists');
      throw err;
    }
  }

  async put(bucket: string, key: string, body: ObjectBody, opts: PutOptions = {}): Promise<{ size: number }> {
    let size = 0;
    const source = 'writeFile' in body ? body.stream() : body;
    async function* counted() {
      for await (const b of source) {
        size += b.byteLength;
        yield b;
      }
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: Readable.from(counted()) },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => {});
    opts.signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      opts.signal?.throwIfAborted();
      throw missing(err, 'bucket');
    } finally {
      opts.signal?.removeEventListener('abort', abort);
    }
    return { size };
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { key, size: Number(res.ContentLength ?? 0), lastModified: res.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async get(bucket: string, key: string) {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { size: Number(res.ContentLength ?? 0), body: res.Body as Readable };
    } catch (err) {
      throw missing(err, 'key');
    }
  }

  async getSparse(bucket: string, key: string) {
    const { size, body } = await this.get(bucket, key);
    return { size, body: sparseBody(size, atOffsets(body, size, `${bucket}/${key}`)) };
  }

  async list(bucket: string, opts: { prefix?: string; startAfter?: string; max?: number } = {}): Promise<ObjectListing> {
    const max = Math.min(opts.max ?? 1000, 1000);
    try {
      // One page of the server's default size, cut here: s3rver fails on truncated listings with a small MaxKeys.
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: opts.prefix || undefined, StartAfter: opts.startAfter }));
      const all = res.Contents ?? [];
      return {
        objects: all.slice(0, max).map((o) => ({ key: o.Key!, size: Number(o.Size ?? 0), lastModified: o.LastModified?.getTime() ?? 0 })),
        truncated: res.IsTruncated === true || all.length > max,
      };
    } catch (err) {
      throw missing(err, 'bucket');
    }
  }

  async delete(bucket: string, key: string): Promise<void> {
    if (!(await this.head(bucket, key))) throw apiError('NoSuchKey');
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  async version(bucket: string, key: string): Promise<ObjectVersion> {
    try {
      return s3Version(bucket, key, await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
    } catch (err) {
      throw missing(err, 'key');
    }
  }

  async openSource(bucket: string, key: string, opts: { signal?: AbortSignal } = {}): Promise<ObjectSource> {
    let res: GetObjectCommandOutput;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      throw missing(err, 'key');
    }
    const body = res.Body as Readable;
    const version = s3Version(bucket, key, res);
    await fs.mkdir(this.tmpDir, { recursive: true });
    const tmp = path.join(this.tmpDir, `spool-${crypto.randomBytes(8).toString('hex')}`);
    try {
      // Spooled with holes where the object holds zero blocks, so a raw disk's zeros take no space and, once
      // spooled, are never read again (formats/flat.ts).
      const size = Number(res.ContentLength ?? 0);
      const spooled = Readable.from(sparseBody(size, atOffsets(body, size, `${bucket}/${key}`)), { objectMode: false });
      if (opts.signal) addAbortSignal(opts.signal, spooled);
      await writeSparseFile(spooled, tmp);
      const src = await openFileSource(tmp, { direct: true });
      return {
        size: src.size,
        dataExtents: src.dataExtents,
        version,
        read: (buf, offset, length, position) => src.read(buf, offset, length, position),
        async close() {
          await src.close();
          await fs.rm(tmp, { force: true });
        },
      };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }
}
