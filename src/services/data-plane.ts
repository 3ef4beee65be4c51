/** The chunk stores (one per region), the chunk index, manifests and the hash pool, built from config. */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { ChunkStore } from '../blobs/types.ts';
import { FsChunkStore } from '../blobs/fs-store.ts';
import { S3ChunkStore } from '../blobs/s3-store.ts';
import { KyselyChunkIndex } from '../blobs/chunk-index.ts';
import { ManifestRepo } from '../blobs/manifests.ts';
import { HashPool } from '../blobs/hash-pool.ts';
import type { ImportDeps } from '../blobs/importer.ts';
import { ChunkBufferPool } from '../blobs/buffer-pool.ts';

export interface ChunkStoreConfig {
  dataDir: string;
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string };
}

export interface DataPlane {
  /** The chunk store of a region (each region keeps its own copy of the chunks it uses). */
  store(region: string): ChunkStore;
  index: KyselyChunkIndex;
  manifests: ManifestRepo;
  hashPool: HashPool;
  /** Reused 4 MiB chunk buffers: readers allocate from it and the importer gives them back once stored. */
  buffers: ChunkBufferPool;
  /** Everything an import or a copy-on-write write into `region` needs. */
  importDeps(region: string): ImportDeps;
  close(): Promise<void>;
}

export async function createDataPlane(cfg: ChunkStoreConfig, db: Kysely<Database>, now: () => number): Promise<DataPlane> {
  const stores = new Map<string, ChunkStore>();
  const s3 = cfg.s3.endpoint ? cfg.s3 : undefined;
  const index = new KyselyChunkIndex(db, { now });
  const manifests = new ManifestRepo(db, { now });
  const hashPool = new HashPool();
  const ensured: Promise<void>[] = [];

  function store(region: string): ChunkStore {
    let s = stores.get(region);
    if (!s) {
      if (s3) {
        const s3store = new S3ChunkStore({ ...s3, prefix: `${region}/` });
        ensured.push(s3store.ensureBucket());
        s = s3store;
      } else {
        s = new FsChunkStore(path.join(cfg.dataDir, 'chunks', region));
      }
      stores.set(region, s);
    }
    return s;
  }

  if (s3) {
    store('__probe__');
    await Promise.all(ensured); // fail at start, not on the first import, when S3 is unreachable
    stores.delete('__probe__');
  }

  return {
    store,
    index,
    manifests,
    hashPool,
    buffers: new ChunkBufferPool(),
    importDeps: (region) => ({ store: store(region), index, region, hashPool }),
    async close() {
      await hashPool.close();
      await Promise.all([...stores.values()].map((s) => s.close()));
    },
  };
}
