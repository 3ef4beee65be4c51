/** The chunk stores (one per region), the chunk index, manifests, hashing and chunk buffers, as services use them. */
import type { ChunkStore } from '../blobs/types.ts';
import type { KyselyChunkIndex } from '../blobs/chunk-index.ts';
import type { ManifestRepo } from '../blobs/manifests.ts';
import type { HashPool } from '../blobs/hash-pool.ts';
import type { ImportDeps } from '../blobs/importer.ts';
import type { ChunkBufferPool } from '../formats/buffer-pool.ts';

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
}

/** The data plane over chunk stores built for every configured region. */
export function dataPlaneOf(parts: Omit<DataPlane, 'store' | 'importDeps'> & { stores: ReadonlyMap<string, ChunkStore> }): DataPlane {
  const { stores, ...rest } = parts;
  const store = (region: string): ChunkStore => {
    const s = stores.get(region);
    if (!s) throw new Error(`no chunk store for region ${region}`);
    return s;
  };
  return { ...rest, store, importDeps: (region) => ({ store: store(region), index: rest.index, region, hashPool: rest.hashPool }) };
}
