/**
 * Chunks as files `root/<2 hex>/<64 hex>`. A put writes a temp file in the target directory and renames
 * it into place, so a chunk file is either absent or complete. `flush()` returns once every put since the
 * last flush is durable (file data and the directory entries of the renames), so a committed manifest never
 * points at a chunk a crash can lose. When the file data is fdatasynced:
 *   background (default) right after the rename, off the put's path, a few at a time; flush waits for them
 *   batched              all at flush
 *   eager                before the rename, inside put
 * bench/import.ts compares them: background overlaps the disk flush with reading and hashing.
 * Page-aligned chunks (formats/aligned-memory.ts) are written with O_DIRECT where the filesystem takes it: no copy
 * into the page cache, which cost more CPU than hashing them. A filesystem that refuses it (ramfs) gets buffered writes.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { ChunkRef, ChunkStore } from './types.ts';
import { CHUNK_SIZE } from '../domain/disk.ts';
import { refFromHex, refHex } from './refs.ts';
import { ChunkCorruptError, ChunkNotFoundError } from './errors.ts';
import { createLimiter, type Limiter } from './limit.ts';
import { DIRECT_IO_ALIGN, directIoReady } from '../formats/aligned-memory.ts';

export type FsDurability = 'background' | 'batched' | 'eager';

export interface FsChunkStoreOptions {
  durability?: FsDurability;
  /** fsyncs in flight at once. They block libuv threadpool threads, which file reads need too. */
  syncConcurrency?: number;
  /** Write aligned chunks with O_DIRECT when the filesystem allows it (default true). */
  directIo?: boolean;
}

const DIRECT_CREATE = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DIRECT;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX2 = /^[0-9a-f]{2}$/;

export class FsChunkStore implements ChunkStore {
  readonly kind = 'fs';
  private unsyncedFiles = new Set<string>();
  private unsyncedDirs = new Set<string>();
  private readonly backgroundSyncs = new Set<Promise<void>>();
  private readonly knownDirs = new Set<string>();
  private readonly durability: FsDurability;
  private readonly syncs: Limiter;
  private readonly syncConcurrency: number;
  private directIo: boolean;
  /** Chunks written, and read, with O_DIRECT so far. */
  directWrites = 0;
  directReads = 0;

  constructor(readonly root: string, opts: FsChunkStoreOptions = {}) {
    this.durability = opts.durability ?? 'background';
    this.directIo = opts.directIo ?? true;
    this.syncConcurrency = opts.syncConcurrency ?? 2;
    this.syncs = createLimiter(this.syncConcurrency);
  }

  private pathOf(ref: ChunkRef): { dir: string; file: string } {
    const hex = refHex(ref);
    const dir = path.join(this.root, hex.slice(0, 2));
    return { dir, file: path.join(dir, hex) };
  }

  async has(ref: ChunkRef): Promise<boolean> {
    try {
      return (await fs.stat(this.pathOf(ref).file)).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async put(ref: ChunkRef, data: Buffer): Promise<void> {
    const { dir, file } = this.pathOf(ref);
    if (await holds(file, data)) {
      // Possibly written by a process that died before its flush: make it durable with this batch too.
      if (this.durability === 'eager') await syncPath(file);
      this.written(file, dir, this.durability === 'eager');
      return;
    }
    await this.ensureDir(dir);
    const tmp = path.join(dir, `.tmp-${crypto.randomBytes(6).toString('hex')}`);
    const direct = this.directIo && directIoReady(data);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(tmp, direct ? DIRECT_CREATE : 'wx');
      await writeAll(fh, data);
      if (this.durability === 'eager') await this.syncs.run(() => fh!.datasync());
    } catch (err) {
      await fh?.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      if (!direct || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.directIo = false; // this filesystem does not take O_DIRECT (or not this alignment): buffered from now on
      return this.put(ref, data);
    }
    await fh.close();
    if (direct) this.directWrites++;
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.written(file, dir, this.durability === 'eager');
  }

  private written(file: string, dir: string, dataSynced: boolean): void {
    this.unsyncedDirs.add(dir);
    if (dataSynced) return;
    if (this.durability === 'batched') {
      this.unsyncedFiles.add(file);
      return;
    }
    const p: Promise<void> = this.syncs
      .run(() => syncPath(file))
      .catch((err) => {
        // Deleted meanwhile (by GC): nothing to sync. Anything else is retried, and reported, by flush.
        if (!isNotFound(err)) this.unsyncedFiles.add(file);
      })
      .finally(() => this.backgroundSyncs.delete(p));
    this.backgroundSyncs.add(p);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const created = await fs.mkdir(dir, { recursive: true });
    if (created !== undefined) {
      // New directories must reach the disk too: sync every parent from the first one created.
      for (let d = dir; d.length >= created.length; d = path.dirname(d)) this.unsyncedDirs.add(path.dirname(d));
    }
    this.knownDirs.add(dir);
  }

  /**
   * With `into` in aligned memory, the chunk is read with O_DIRECT: chunks are written that way, so they are not in the
   * page cache, and filling fresh page cache costs this kind of VM more CPU than hashing the bytes.
   */
  async get(ref: ChunkRef, into?: Buffer): Promise<Buffer> {
    const { file } = this.pathOf(ref);
    let data: Buffer;
    try {
      if (into && this.directIo && directIoReady(into)) {
        data = await readDirect(ref, file, into);
        this.directReads++;
      } else data = await fs.readFile(file);
    } catch (err) {
      if (isNotFound(err)) throw new ChunkNotFoundError(ref, this.root);
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || !into) throw err;
      this.directIo = false; // this filesystem does not take O_DIRECT, as put finds out: buffered from now on
      data = await fs.readFile(file);
    }
    if (data.length === 0 || data.length > CHUNK_SIZE) throw new ChunkCorruptError(ref, `${data.length} bytes on disk`);
    return data;
  }

  async delete(ref: ChunkRef): Promise<void> {
    const { file } = this.pathOf(ref);
    await fs.rm(file, { force: true });
    this.unsyncedFiles.delete(file);
  }

  async *list(): AsyncIterable<ChunkRef> {
    let dirs: string[];
    try {
      dirs = (await fs.readdir(this.root)).filter((d) => HEX2.test(d)).sort();
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const d of dirs) {
      const names = await fs.readdir(path.join(this.root, d)).catch((err) => (isNotFound(err) ? [] : Promise.reject(err)));
      for (const name of names.sort()) if (HEX64.test(name) && name.startsWith(d)) yield refFromHex(name);
    }
  }

  async flush(): Promise<void> {
    while (this.backgroundSyncs.size > 0) await Promise.all([...this.backgroundSyncs]);
    const files = this.unsyncedFiles;
    const dirs = this.unsyncedDirs;
    this.unsyncedFiles = new Set();
    this.unsyncedDirs = new Set();
    try {
      const limit = createLimiter(Math.max(4, this.syncConcurrency));
      // A file deleted meanwhile was collected by GC: nothing to make durable, and the import that put it
      // fails at markStored because its row is gone.
      await Promise.all([...files].map((f) => limit.run(() => syncPath(f).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err))))));
      await Promise.all([...dirs].map((d) => limit.run(() => syncPath(d))));
    } catch (err) {
      for (const f of files) this.unsyncedFiles.add(f);
      for (const d of dirs) this.unsyncedDirs.add(d);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/** True when `file` already holds exactly `data` (a chunk put before, maybe by a process that crashed). */
async function holds(file: string, data: Buffer): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (st.size !== data.length) return false;
    return (await fs.readFile(file)).equals(data);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Chunk `ref`'s file read with O_DIRECT into `into` (whole blocks; the last ends at the file's end), as a view of it. */
async function readDirect(ref: ChunkRef, file: string, into: Buffer): Promise<Buffer> {
  const fh = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_DIRECT);
  try {
    const { size } = await fh.stat();
    if (size === 0 || size > into.length) throw new ChunkCorruptError(ref, `${size} bytes on disk`);
    let off = 0;
    while (off < size) {
      const want = Math.min(into.length, Math.ceil(size / DIRECT_IO_ALIGN) * DIRECT_IO_ALIGN) - off;
      const { bytesRead } = await fh.read(into, off, want, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return into.subarray(0, Math.min(off, size));
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: fs.FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, off);
    off += bytesWritten;
  }
}

async function syncPath(p: string): Promise<void> {
  const fh = await fs.open(p, 'r');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}
