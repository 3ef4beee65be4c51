/**
 * CopyImage between regions: a full copy (every chunk moves) and a copy whose chunks already exist in the
 * destination (nothing moves), through the service's CopyImage use case and its durable job.
 * Anchor: `cp -a` of the source region's chunk directory (a naive full copy of the same bytes).
 * Usage: node --import tsx bench/copy.ts   (COPY_BENCH_GIB, default 10: the image's allocated size)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';
import { importDisk } from '../src/blobs/importer.ts';
import { CHUNK_SIZE } from '../src/domain/disk.ts';
import type { DiskReader, ReadChunk } from '../src/formats/types.ts';
import { newResourceId } from '../src/domain/ids.ts';
import { insertSnapshot } from '../src/services/snapshots/repo.ts';
import { createImageFromSnapshots } from '../src/services/images/create-image.ts';
import { copyImage } from '../src/services/images/copy.ts';

const GIB = Number(process.env.COPY_BENCH_GIB ?? 10);
const chunks = GIB * 256;
const dataDir = fs.mkdtempSync(path.join(process.env.COPY_BENCH_DIR ?? os.tmpdir(), 'ih-copy-bench-'));
const app = await createApp(loadConfig({ data: dataDir }, {}), { logger: false });
const { services } = app;

/** Distinct chunks: a counter stamped every 4 KiB, so no two dedupe and no block is zero. */
const reader: DiskReader = {
  virtualSize: chunks * CHUNK_SIZE,
  async *chunks(): AsyncGenerator<ReadChunk> {
    for (let index = 0; index < chunks; index++) {
      const data = Buffer.allocUnsafe(CHUNK_SIZE);
      for (let off = 0; off < CHUNK_SIZE; off += 4096) { data.writeUInt32LE(index, off); data.writeUInt32LE(off, off + 4); data.fill(0x5a, off + 8, off + 4096); }
      yield { index, data };
    }
  },
};

async function waitAvailable(region: string, id: string): Promise<void> {
  for (;;) {
    const row = await services.db.selectFrom('images').select(['status', 'error_message']).where('region', '=', region).where('id', '=', id).executeTakeFirstOrThrow();
    if (row.status === 'Available') return;
    if (row.status !== 'Creating' && row.status !== 'Waiting') throw new Error(`${id}: ${row.status} ${row.error_message}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const alice = await createAccount(services, { name: 'bench' });
let t = performance.now();
const manifest = await importDisk(reader, services.dataPlane.importDeps('cn-hangzhou'));
const manifestId = await services.dataPlane.manifests.commit('cn-hangzhou', manifest);
const snapshotId = newResourceId('snapshot', 'bp1');
await insertSnapshot(services.db, { id: snapshotId, region: 'cn-hangzhou', owner_id: alice.accountId, manifest_id: manifestId, source_disk_size_gib: GIB }, Date.now());
const { imageId } = await createImageFromSnapshots(services, { region: 'cn-hangzhou', owner: alice.accountId, name: 'bench_src', tags: [], disks: [{ snapshotId, diskType: 'system' }], source: { kind: 'snapshot', id: snapshotId } });
await waitAvailable('cn-hangzhou', imageId);
console.log(`seeded a ${GIB} GiB image (${chunks} distinct chunks) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const srcDir = path.join(dataDir, 'chunks', 'cn-hangzhou');
execFileSync('sync');
t = performance.now();
execFileSync('cp', ['-a', srcDir, path.join(dataDir, 'cp-anchor')]);
execFileSync('sync');
const anchor = (performance.now() - t) / 1000;
fs.rmSync(path.join(dataDir, 'cp-anchor'), { recursive: true, force: true });

async function timedCopy(name: string): Promise<number> {
  const start = performance.now();
  const { imageId: copyId } = await copyImage(services, { sourceRegion: 'cn-hangzhou', imageId, caller: alice.accountId, destinationRegion: 'cn-beijing', name, tags: [] });
  await waitAvailable('cn-beijing', copyId);
  return (performance.now() - start) / 1000;
}
const full = await timedCopy('bench_full');
const incremental = await timedCopy('bench_incremental');

console.log(`\n${'what'.padEnd(58)} ${'seconds'.padStart(8)} ${'vs cp -a'.padStart(9)}`);
console.log(`${'cp -a of the source chunk directory + sync (anchor)'.padEnd(58)} ${anchor.toFixed(2).padStart(8)} ${'1.00'.padStart(9)}`);
console.log(`${'CopyImage, every chunk moves (API call → Available)'.padEnd(58)} ${full.toFixed(2).padStart(8)} ${(full / anchor).toFixed(2).padStart(9)}`);
console.log(`${'CopyImage, chunks already in cn-beijing (→ Available)'.padEnd(58)} ${incremental.toFixed(3).padStart(8)} ${(incremental / anchor).toFixed(3).padStart(9)}`);
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
