import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '/work/wt-glancestream/src/store/db.ts';
import { FsChunkStore } from '/work/wt-glancestream/src/blobs/fs-store.ts';
import { KyselyChunkIndex } from '/work/wt-glancestream/src/blobs/chunk-index.ts';
import { storeAndDigest, writeAndDigest } from '/work/wt-glancestream/src/blobs/stream-digests.ts';
const MiB = Number(process.env.MIB ?? 512);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-store-'));
const src = path.join(root, 'src.raw');
fs.writeFileSync(src, Buffer.alloc(0));
const fd = fs.openSync(src, 'w'); const b = (await import('node:crypto')).randomBytes(4 << 20); for (let i = 0; i < MiB / 4; i++) fs.writeSync(fd, b.map((x, j) => x ^ i ^ j)); fs.closeSync(fd);
const meta = await openStore({ sqlitePath: path.join(root, 'meta.sqlite') });

const index = new KyselyChunkIndex(meta.db);
for (const mode of (process.env.MODES ?? 'store,file').split(',')) {
  const t = performance.now(); const c = process.cpuUsage();
  if (mode === 'store') await storeAndDigest(fs.createReadStream(src, { highWaterMark: 64 * 1024 }), { store: new FsChunkStore(path.join(root, 'chunks' + Math.random())), index, region: 'r' + Math.random() }, ['md5', 'sha512']);
  else {
    const spool = path.join(root, 'spool' + Math.random());
    await writeAndDigest(fs.createReadStream(src, { highWaterMark: 64 * 1024 }), spool, ['md5', 'sha512']);
    if (mode === 'file+import') {
      const { inspect, openFileSource, openReader } = await import('/work/wt-glancestream/src/formats/index.ts');
      const { importDisk } = await import('/work/wt-glancestream/src/blobs/importer.ts');
      const { HashPool } = await import('/work/wt-glancestream/src/blobs/hash-pool.ts');
      const { ChunkBufferPool } = await import('/work/wt-glancestream/src/blobs/buffer-pool.ts');
      const store2 = new FsChunkStore(path.join(root, 'chunks2' + Math.random()));
      const hp = new HashPool(); const buffers = new ChunkBufferPool();
      const s2 = await openFileSource(spool);
      const insp = await inspect(s2, { declared: 'raw' });
      await importDisk(await openReader(s2, insp, { allocate: (n: number) => buffers.acquire(n) }), { store: store2, index, region: 'r2' + Math.random(), hashPool: hp }, { buffers });
      await hp.close(); await s2.close();
    }
  }
  const cu = process.cpuUsage(c);
  console.log(mode, MiB, 'MiB', ((performance.now() - t) / 1000).toFixed(2), 's wall', ((cu.user + cu.system) / 1e6).toFixed(2), 's cpu', os.loadavg()[0].toFixed(1));
}
fs.rmSync(root, { recursive: true, force: true });
process.exit(0);
