/**
 * Puts real bytes behind a snapshot without the compute or import actions: the bytes go through the
 * format inspector and reader (as raw) and the chunk importer into the server's region store.
 */
import crypto from 'node:crypto';
import type { TestServer } from './server.ts';
import { bufferSource, inspect, openReader } from '../../src/formats/index.ts';
import { importDisk } from '../../src/blobs/importer.ts';
import { newResourceId } from '../../src/domain/ids.ts';
import { gibOf, insertSnapshot, uniqueBytes } from '../../src/services/snapshots/repo.ts';
import type { Manifest } from '../../src/blobs/types.ts';

export async function seedSnapshot(server: TestServer, ownerId: string, region: string, content: Buffer): Promise<{ snapshotId: string; manifest: Manifest }> {
  const { services } = server.app;
  const src = bufferSource(content);
  const manifest = await importDisk(await openReader(src, await inspect(src, { declared: 'raw' })), services.dataPlane.importDeps(region));
  const manifestId = await services.dataPlane.manifests.commit(region, manifest);
  const snapshotId = newResourceId('snapshot', services.regions.require(region).infix);
  await insertSnapshot(services.db, {
    id: snapshotId, region, owner_id: ownerId, manifest_id: manifestId, source_disk_size_gib: gibOf(content.length), unique_bytes: uniqueBytes(manifest),
  }, services.clock.now());
  return { snapshotId, manifest };
}

/** A disk image with recognisable, partly sparse content: `mib` MiB with random 64 KiB runs every 1 MiB. */
export function sampleDisk(mib: number, seed = 1): Buffer {
  const buf = Buffer.alloc(mib * 1024 * 1024);
  const rnd = crypto.createHash('sha256').update(String(seed));
  for (let off = 0; off < buf.length; off += 1024 * 1024) {
    const run = crypto.createHash('sha512').update(rnd.copy().update(String(off)).digest()).digest();
    for (let i = 0; i < 65536; i += run.length) run.copy(buf, off + i);
  }
  return buf;
}
