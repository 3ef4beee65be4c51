/**
 * Buckets as folders: `<root>/<bucket>/<key>`. Keys are checked by names.ts; on top of that no symlink is
 * ever followed: every folder on the way is lstat'ed, the object is opened with O_NOFOLLOW, and (on Linux)
 * the opened file's real path must be the expected one, so a link planted inside a bucket folder leads
 * nowhere. Puts go to a temp file on the same volume, are fsynced, then renamed into place.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { constants, existsSync, type BigIntStats, type Dirent } from 'node:fs';
import path from 'node:path';
import { apiError } from '../../domain/errors.ts';
import { writeStreamToFile } from '../../formats/writers/file.ts';
import { cachedBytes } from '../../formats/page-cache.ts';
import { holeyFileExtents } from '../../formats/data-extents.ts';
import { handleSource } from '../../formats/source.ts';
import { extentPieces, sparseBody } from '../../formats/sparse-body.ts';
import type { ChunkBufferPool } from '../../formats/buffer-pool.ts';
import type { ObjectBody, ObjectInfo, ObjectListing, ObjectSource, ObjectStore, ObjectVersion, PutOptions } from './object-store.ts';

const PROC_FD = '/proc/self/fd';
/** Objects smaller than this are read through the page cache without asking how much of them it holds. */
const DIRECT_READ_MIN = 64 * 1024 * 1024;

async function* closingAfter(fh: fs.FileHandle, body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  try {
    yield* body;
  } finally {
    await fh.close();
  }
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException)?.code ?? '');
}

export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs';
  private readonly checkRealPath = existsSync(PROC_FD);
  /** `staging`: the data plane's buffers, which FileWriter stages writes in (reused from one put to the next). */
  constructor(private readonly root: string, private readonly tmpDir: string, private readonly staging: ChunkBufferPool) {}

  async createBucket(bucket: string): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    try {
      await fs.mkdir(path.join(this.root, bucket));
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw apiError('BucketAlreadyExists');
      throw e;
    }
  }

  async put(bucket: string, key: string, body: ObjectBody, opts: PutOptions = {}): Promise<{ size: number }> {
    const dir = await this.bucketDir(bucket);
    await fs.mkdir(this.tmpDir, { recursive: true });
    const tmp = path.join(this.tmpDir, opts.tempName ?? `put-${crypto.randomBytes(8).toString('hex')}`);
    try {
      if ('writeFile' in body) await body.writeFile(tmp, this.staging);
      else await writeStreamToFile(asBuffers(body), tmp, this.staging);
      const { size } = await fs.stat(tmp);
      const parent = await this.makeParents(dir, key);
      try {
        await fs.rename(tmp, path.join(dir, key));
      } catch (e) {
        if (isErrno(e, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) throw apiError('InvalidObjectName', 'a folder of that name exists in the bucket');
        throw e;
      }
      await syncDir(parent);
      return { size };
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    const file = await this.resolve(bucket, key);
    if (!file) return undefined;
    const st = await fs.lstat(file).catch((e) => (isErrno(e, 'ENOENT', 'ENOTDIR') ? undefined : Promise.reject(e)));
    return st?.isFile() ? { key, size: st.size, lastModified: Math.floor(st.mtimeMs) } : undefined;
  }

  async get(bucket: string, key: string) {
    const fh = await this.openObject(bucket, key);
    const { size } = await fh.stat();
    return { size, body: fh.createReadStream({ autoClose: true }) };
  }

  async getSparse(bucket: string, key: string) {
    const fh = await this.openObject(bucket, key);
    try {
      const { size } = await fh.stat();
      const extents = (await holeyFileExtents(fh)) ?? [[0, size]];
      return { size, body: closingAfter(fh, sparseBody(size, extentPieces(fh, extents))) };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async list(bucket: string, opts: { prefix?: string; startAfter?: string; max?: number } = {}): Promise<ObjectListing> {
    const dir = await this.bucketDir(bucket);
    const prefix = opts.prefix ?? '';
    const max = opts.max ?? 1000;
    const keys: string[] = [];
    await walk(dir, '', prefix, keys);
    const after = keys.sort().filter((k) => opts.startAfter === undefined || k > opts.startAfter);
    const objects: ObjectInfo[] = [];
    for (const key of after.slice(0, max)) {
      const st = await fs.lstat(path.join(dir, key)).catch(() => undefined);
      if (st?.isFile()) objects.push({ key, size: st.size, lastModified: Math.floor(st.mtimeMs) });
    }
    return { objects, truncated: after.length > max };
  }

  async delete(bucket: string, key: string): Promise<void> {
    const file = await this.resolve(bucket, key);
    const st = file ? await fs.lstat(file).catch(() => undefined) : undefined;
    if (!file || !st?.isFile()) throw apiError('NoSuchKey');
    await fs.unlink(file);
  }

  async openSource(bucket: string, key: string): Promise<ObjectSource> {
    const fh = await this.openObject(bucket, key);
    try {
      const st = await fh.stat({ bigint: true });
      const size = Number(st.size);
      // A put writes with O_DIRECT, so an object imported right after is not in the page cache: it is read direct, as
      // spools are (formats/source.ts). One the cache mostly holds (read since) is read through it.
      const direct = size >= DIRECT_READ_MIN && ((await cachedBytes(fh)) ?? Infinity) < size / 2;
      return { ...(await handleSource(fh, size, { direct })), version: fileVersion(bucket, key, st) };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async version(bucket: string, key: string): Promise<ObjectVersion> {
    const fh = await this.openObject(bucket, key);
    try {
      return fileVersion(bucket, key, await fh.stat({ bigint: true }));
    } finally {
      await fh.close();
    }
  }

  /** The bucket's folder, which must be a real directory (not a link). */
  private async bucketDir(bucket: string): Promise<string> {
    const dir = path.join(this.root, bucket);
    const st = await fs.lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw apiError('NoSuchBucket');
    return dir;
  }

  /** The object's path when every folder on the way is a real directory; undefined otherwise. */
  private async resolve(bucket: string, key: string): Promise<string | undefined> {
    let dir = await this.bucketDir(bucket);
    const segments = key.split('/');
    for (const segment of segments.slice(0, -1)) {
      dir = path.join(dir, segment);
      const st = await fs.lstat(dir).catch(() => undefined);
      if (!st?.isDirectory()) return undefined;
    }
    return path.join(dir, segments[segments.length - 1]);
  }

  private async openObject(bucket: string, key: string): Promise<fs.FileHandle> {
    const file = await this.resolve(bucket, key);
    if (!file) throw apiError('NoSuchKey');
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ELOOP', 'ENOTDIR', 'EISDIR')) throw apiError('NoSuchKey');
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw apiError('NoSuchKey');
      // A folder swapped for a link between the lstat walk and the open would show up here.
      if (this.checkRealPath) {
        const real = await fs.readlink(`${PROC_FD}/${fh.fd}`);
        const expected = path.join(await fs.realpath(path.join(this.root, bucket)), key);
        if (real !== expected) throw apiError('NoSuchKey');
      }
      return fh;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Creates the key's folders (refusing links and files in the way); returns the object's folder. */
  private async makeParents(dir: string, key: string): Promise<string> {
    for (const segment of key.split('/').slice(0, -1)) {
      dir = path.join(dir, segment);
      try {
        await fs.mkdir(dir);
      } catch (e) {
        if (!isErrno(e, 'EEXIST')) throw e;
        const st = await fs.lstat(dir);
        if (!st.isDirectory()) throw apiError('InvalidObjectName', `"${path.basename(dir)}" is an object or a link, not a folder`);
      }
    }
    return dir;
  }
}

/**
 * A write in the same timestamp tick as the file's last change leaves its times as they are, so a file changed
 * within a tick of when it is looked at may change again unseen. Sub-second times come from the kernel's coarse
 * clock (a tick of at most 10 ms): 100 ms is well past one. Times in whole seconds may come from a filesystem that
 * keeps only seconds (2 s on FAT).
 */
const SETTLE_NS = 100_000_000n;
const SETTLE_WHOLE_SECONDS_NS = 2_000_000_000n;

/**
 * The file's version: device and inode (which file), size, and modification and change times in ns. The change
 * time cannot be set by tools that restore a modification time (cp -p, rsync -t, touch -d), and a new file
 * reusing the inode gets a new one. Times are compared with this host's clock: a bucket folder on a network
 * filesystem whose server's clock lags would need a wider margin.
 */
function fileVersion(bucket: string, key: string, st: BigIntStats): ObjectVersion {
  const now = BigInt(Date.now()) * 1_000_000n;
  const newest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  const wholeSeconds = st.mtimeNs % 1_000_000_000n === 0n && st.ctimeNs % 1_000_000_000n === 0n;
  return {
    id: ['fs', bucket, key, st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':'),
    settled: newest <= now - (wholeSeconds ? SETTLE_WHOLE_SECONDS_NS : SETTLE_NS),
  };
}

async function* asBuffers(body: AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  for await (const b of body) yield Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Regular files under `dir` whose key starts with `prefix`; links and special files are skipped. */
async function walk(dir: string, base: string, prefix: string, out: string[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return;
    throw e;
  }
  for (const e of entries) {
    const key = base + e.name;
    if (e.isDirectory()) {
      // Only folders that can hold keys with the prefix.
      const folder = key + '/';
      if (folder.startsWith(prefix) || prefix.startsWith(folder)) await walk(path.join(dir, e.name), folder, prefix, out);
    } else if (e.isFile() && key.startsWith(prefix)) {
      out.push(key);
    }
  }
}
