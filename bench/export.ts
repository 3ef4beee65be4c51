/**
 * Export throughput: our qcow2 / dynamic VHD writers (from a raw-file VirtualDisk, written to a file and
 * fsynced) against qemu-img convert -t writeback (one fdatasync at close) on the same sparse raw input.
 * Anchor (docs/specs disk-formats §3.5): qemu-img convert to vpc dynamic 0.78 s unsafe / 3.09 s writeback
 * for 1 GiB of data in 4 GiB virtual.
 *
 * Env: EXPORT_BENCH_VIRTUAL_MIB (default 4096), EXPORT_BENCH_DATA_MIB (default 1024, as 64 equal random extents),
 *      EXPORT_BENCH_RUNS (default 3, median reported), EXPORT_BENCH_FORMATS (default qcow2,vhd; also raw, vmdk),
 *      EXPORT_BENCH_FROM=chunks (export the input imported into a chunk store, as ExportImage reads it, instead of
 *      the raw file itself),
 *      EXPORT_BENCH_DIR (default the OS temp dir), EXPORT_BENCH_DROP_CACHES=1 (root: drop the page cache before
 *      each timed run, so the input is read cold).
 * Usage: node --import tsx bench/export.ts
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExportFormat } from '../src/formats/types.ts';
import { writeExportFile } from '../src/formats/writers/index.ts';
import { openRawVirtualDisk } from '../test/formats/raw-virtual-disk.ts';
import type { VirtualDisk } from '../src/domain/disk.ts';
import { inspect, openFileSource, openReader } from '../src/formats/index.ts';
import { openStore } from '../src/store/db.ts';
import { FsChunkStore } from '../src/blobs/fs-store.ts';
import { KyselyChunkIndex } from '../src/blobs/chunk-index.ts';
import { manifestDisk } from '../src/blobs/manifests.ts';
import { HashPool } from '../src/blobs/hash-pool.ts';
import { importDisk } from '../src/blobs/importer.ts';
import { ChunkBufferPool } from '../src/formats/buffer-pool.ts';
import { buildSparseRaw, median, printTable } from './support.ts';

const MiB = 1024 * 1024;
const VIRTUAL = Number(process.env.EXPORT_BENCH_VIRTUAL_MIB ?? 4096) * MiB;
const DATA = Number(process.env.EXPORT_BENCH_DATA_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.EXPORT_BENCH_RUNS ?? 3);
const FORMATS = (process.env.EXPORT_BENCH_FORMATS ?? 'qcow2,vhd').split(',') as ExportFormat[];
const DROP_CACHES = process.env.EXPORT_BENCH_DROP_CACHES === '1';
const FROM_CHUNKS = process.env.EXPORT_BENCH_FROM === 'chunks';
const EXTENTS = 64;

const QEMU_ARGS: Partial<Record<ExportFormat, string[]>> = {
  raw: ['-O', 'raw'],
  qcow2: ['-O', 'qcow2'],
  vhd: ['-O', 'vpc', '-o', 'subformat=dynamic,force_size=on'],
  'vhd-fixed': ['-O', 'vpc', '-o', 'subformat=fixed,force_size=on'],
  vmdk: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'],
};
const QEMU_FORMAT: Record<ExportFormat, string> = { raw: 'raw', qcow2: 'qcow2', vhd: 'vpc', 'vhd-fixed': 'vpc', vmdk: 'vmdk' };

const dir = fs.mkdtempSync(path.join(process.env.EXPORT_BENCH_DIR ?? os.tmpdir(), 'ih-bench-export-'));
try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (DATA % (EXTENTS * 64 * 1024) !== 0 || DATA > VIRTUAL) throw new Error('data must be ≤ virtual and a multiple of 4 MiB');
  const input = path.join(dir, 'in.raw');
  let t = performance.now();
  buildSparseRaw(input, VIRTUAL, DATA, EXTENTS);
  console.log(`input: ${mib(VIRTUAL)} MiB virtual, ${mib(DATA)} MiB random data in ${EXTENTS} extents (built in ${secs(t)} s)`);
  t = performance.now();
  const disk = FROM_CHUNKS ? await chunkStoreDisk(input) : await openRawVirtualDisk(input);
  console.log(FROM_CHUNKS
    ? `imported into a chunk store in ${secs(t)} s; the exports read its chunks, as ExportImage does (not part of an export)`
    : `zero masks computed in ${secs(t)} s (the chunk store keeps them; not part of an export)`);
  console.log(`runs: ${RUNS} (median), page cache ${DROP_CACHES ? 'dropped before each run' : 'warm'}, outputs fsynced\n`);
  const rows: string[][] = [['format', 'ours s', 'ours MB/s', 'qemu-img s', 'qemu-img MB/s', 'ours/qemu time', 'ours bytes', 'qemu bytes']];
  try {
    for (const format of FORMATS) {
      const ours = path.join(dir, `ours.${format}`);
      const theirs = path.join(dir, `qemu.${format}`);
      const oursTimes: number[] = [];
      const qemuTimes: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        fs.rmSync(ours, { force: true });
        fs.rmSync(theirs, { force: true });
        prepareRun();
        let s = performance.now();
        await writeExportFile(disk, format, ours);
        oursTimes.push((performance.now() - s) / 1000);
        prepareRun();
        s = performance.now();
        execFileSync('qemu-img', ['convert', '-f', 'raw', '-t', 'writeback', ...QEMU_ARGS[format]!, input, theirs]);
        qemuTimes.push((performance.now() - s) / 1000);
      }
      verify(input, ours, format);
      const o = median(oursTimes);
      const q = median(qemuTimes);
      rows.push([format, o.toFixed(2), mbps(o), q.toFixed(2), mbps(q), (o / q).toFixed(2), String(fs.statSync(ours).size), String(fs.statSync(theirs).size)]);
      console.log(`${format}: ours ${oursTimes.map((x) => x.toFixed(2)).join(' ')} s; qemu-img ${qemuTimes.map((x) => x.toFixed(2)).join(' ')} s`);
    }
  } finally {
    await disk.close();
  }
  console.log(`\nMB/s = random data bytes (${mib(DATA)} MiB) / wall time; ours/qemu < 1 means we are faster.`);
  printTable(rows);
}


/**
 * The input imported into a fresh FsChunkStore (SQLite chunk index), as the manifest's disk an ExportImage job reads:
 * chunks written with O_DIRECT, so not in the page cache.
 */
async function chunkStoreDisk(input: string): Promise<VirtualDisk & { close(): Promise<void> }> {
  const meta = await openStore({ sqlitePath: path.join(dir, 'meta.sqlite') });
  const store = new FsChunkStore(path.join(dir, 'chunks'));
  const hashPool = new HashPool();
  const src = await openFileSource(input);
  try {
    const buffers = new ChunkBufferPool();
    const reader = await openReader(src, await inspect(src), { allocate: (n) => buffers.acquire(n) });
    const manifest = await importDisk(reader, { store, index: new KyselyChunkIndex(meta.db), region: 'bench', hashPool }, { buffers });
    await store.flush();
    if (store.directWrites === 0) console.log('note: the chunk store wrote through the page cache (no O_DIRECT here)');
    return { ...manifestDisk(manifest, store), close: async () => { await hashPool.close(); await meta.close(); } };
  } finally {
    await src.close();
  }
}

function prepareRun(): void {
  execFileSync('sync');
  if (DROP_CACHES) fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

function verify(input: string, out: string, format: ExportFormat): void {
  const r = execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', QEMU_FORMAT[format], input, out], { encoding: 'utf8' });
  if (!r.includes('identical')) throw new Error(`${format}: export differs from the input: ${r}`);
}


function mbps(seconds: number): string {
  return (DATA / 1e6 / seconds).toFixed(0);
}

function mib(n: number): number {
  return n / MiB;
}

function secs(start: number): string {
  return ((performance.now() - start) / 1000).toFixed(2);
}

