/** Test fixtures for the chunk layer: a metadata store + index + manifest repo + fs chunk store, a fake clock, an in-memory disk. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import type { StoreBackend, TestStore } from '../support/stores.ts';
import { KyselyChunkIndex } from '../../src/blobs/chunk-index.ts';
import { ManifestRepo } from '../../src/blobs/manifests.ts';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import type { ChunkStore } from '../../src/blobs/types.ts';
import { CHUNK_SIZE, chunkCount, chunkLength } from '../../src/domain/disk.ts';
import type { DiskReader, ReadChunk } from '../../src/formats/types.ts';
import type { ChunkRow } from '../../src/store/schema.ts';
import type { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';

export const REGION = 'cn-test';

export interface BlobEnv {
  meta: TestStore;
  index: KyselyChunkIndex;
  repo: ManifestRepo;
  cas: ChunkStore;
  clock: { now(): number; advance(ms: number): void };
  dir: string;
  row(ref: string): Promise<ChunkRow | undefined>;
  rows(): Promise<ChunkRow[]>;
  dispose(): Promise<void>;
}

export async function openBlobEnv(
  backend: StoreBackend,
  opts: { leaseMs?: number; cas?: ChunkStore } = {},
): Promise<BlobEnv> {
  const meta = await backend.open();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-'));
  let t = 1_700_000_000_000;
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const index = new KyselyChunkIndex(meta.db, { now: clock.now, leaseMs: opts.leaseMs ?? 60_000, pollMs: 2, maxPollMs: 10 });
  const repo = new ManifestRepo(meta.db, { now: clock.now });
  const cas = opts.cas ?? new FsChunkStore(path.join(dir, 'cas'));
  return {
    meta,
    index,
    repo,
    cas,
    clock,
    dir,
    row: (ref) => meta.db.selectFrom('chunks').selectAll().where('region', '=', REGION).where('ref', '=', ref).executeTakeFirst(),
    rows: () => meta.db.selectFrom('chunks').selectAll().where('region', '=', REGION).orderBy('ref').execute(),
    async dispose() {
      if (!opts.cas) await cas.close(); // a store passed in belongs to the caller
      await meta.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Distinct random chunk-sized buffers, reproducible from `seed`. */
export function randomChunk(seed: number, length = CHUNK_SIZE): Buffer {
  const key = crypto.createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/**
 * A DiskReader over an in-memory disk. Chunks listed in `unallocated` are reported as null (no I/O),
 * the others are copied into fresh buffers, or buffers from `buffers` (the importer may transfer them to a
 * worker, and releases them to `buffers` when done).
 */
export function memoryReader(disk: Buffer, unallocated: Set<number> = new Set(), buffers?: ChunkBufferPool): DiskReader {
  return {
    virtualSize: disk.length,
    async *chunks(): AsyncGenerator<ReadChunk> {
      for (let i = 0; i < chunkCount(disk.length); i++) {
        if (unallocated.has(i)) {
          yield { index: i, data: null };
          continue;
        }
        const length = chunkLength(disk.length, i);
        const data = buffers ? buffers.acquire(length) : Buffer.alloc(length);
        disk.copy(data, 0, i * CHUNK_SIZE, i * CHUNK_SIZE + data.length);
        yield { index: i, data };
      }
    },
  };
}

export async function listRefs(store: ChunkStore): Promise<string[]> {
  const out: string[] = [];
  for await (const r of store.list()) out.push(r);
  return out.sort();
}
