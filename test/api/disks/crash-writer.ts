/**
 * Test fixture: writes to a disk in a loop until killed (compute-crash.test.ts kills it with SIGKILL).
 * Usage: node --import tsx crash-writer.ts DATA_DIR DISK_ID
 */
import { createApp } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { writeDisk } from '../../../src/services/compute/disk-content.ts';
import { CHUNK_SIZE } from '../../../src/domain/disk.ts';
import { pattern } from './support.ts';

const [dataDir, diskId] = process.argv.slice(2);
const app = await createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false, worker: false });
const disk = await app.services.db.selectFrom('disks').selectAll().where('id', '=', diskId).executeTakeFirstOrThrow();
for (let n = 0; ; n++) {
  const offset = ((n * 7) % 12) * CHUNK_SIZE + (n % 3) * 1000;
  await writeDisk(app.services, disk, offset, pattern(3 * CHUNK_SIZE, 1000 + n));
  process.stdout.write(`wrote ${n}\n`);
}
