/**
 * Import-side read throughput: inspect + stream every chunk of an image with our readers, against
 * `qemu-img convert -O raw` of the same file (the anchor, docs/specs disk-formats §3.5: 0.65 s for a 4 GiB-virtual,
 * 1 GiB-allocated qcow2, page cache dropped, no fsync). Two figures for ours:
 *   read     inspect + every chunk in memory (what the importer consumes before hashing)
 *   to raw   the same, writing non-null chunks into a sparse raw file through FileWriter, as exports do (the same job
 *            as qemu-img convert -O raw; ours is fsync'd at the end, qemu-img's default cache mode for convert is not)
 *
 * Env: INSPECT_BENCH_VIRTUAL_MIB (default 4096), INSPECT_BENCH_DATA_MIB (default 1024, as 64 equal random extents),
 *      INSPECT_BENCH_RUNS (default 5, median of interleaved runs), INSPECT_BENCH_FORMATS (default qcow2,vhd,vmdk,vhdx),
 *      INSPECT_BENCH_DIR (default the OS temp dir), INSPECT_BENCH_DROP_CACHES=1 (root: drop the page cache before
 *      each timed run).
 * Usage: node --import tsx bench/inspect-read.ts
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHUNK_SIZE } from '../src/domain/disk.ts';
import { inspect, openFileSource, openReader } from '../src/formats/index.ts';
import type { ImportFormat } from '../src/formats/types.ts';
import { FileWriter } from '../src/formats/writers/file.ts';
import { buildSparseRaw, median, dropCaches } from './support.ts';

const MiB = 1024 * 1024;
const VIRTUAL = Number(process.env.INSPECT_BENCH_VIRTUAL_MIB ?? 4096) * MiB;
const DATA = Number(process.env.INSPECT_BENCH_DATA_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.INSPECT_BENCH_RUNS ?? 5);
const FORMATS = (process.env.INSPECT_BENCH_FORMATS ?? 'qcow2,vhd,vmdk,vhdx').split(',');
const DROP_CACHES = process.env.INSPECT_BENCH_DROP_CACHES === '1';
const EXTENTS = 64;

const QEMU: Record<string, { format: string; args: string[]; ours: ImportFormat }> = {
  qcow2: { format: 'qcow2', args: [], ours: 'qcow2' },
  vhd: { format: 'vpc', args: ['-o', 'subformat=dynamic,force_size=on'], ours: 'vhd' },
  vmdk: { format: 'vmdk', args: [], ours: 'vmdk' },
  'vmdk-stream': { format: 'vmdk', args: ['-o', 'subformat=streamOptimized'], ours: 'vmdk' },
  vhdx: { format: 'vhdx', args: [], ours: 'vhdx' },
};

const dir = fs.mkdtempSync(path.join(process.env.INSPECT_BENCH_DIR ?? os.tmpdir(), 'ih-bench-inspect-'));
try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const input = path.join(dir, 'in.raw');
  let t = performance.now();
  buildSparseRaw(input, VIRTUAL, DATA, EXTENTS);
  console.log(`input: ${VIRTUAL / MiB} MiB virtual, ${DATA / MiB} MiB random data in ${EXTENTS} extents (built in ${secs(t)} s)`);
  console.log(`runs: ${RUNS} (median), page cache ${DROP_CACHES ? 'dropped before each run' : 'warm'}, qemu-img not fsync'd (its default), ours to raw fsync'd\n`);
  const rows = [['format', 'qemu-img s', 'ours read s', 'ours to-raw s', 'read MB/s', 'to-raw MB/s', 'to-raw/qemu time']];
  for (const name of FORMATS) {
    const q = QEMU[name];
    if (!q) throw new Error(`unknown format ${name}`);
    const image = path.join(dir, `in.${name}`);
    t = performance.now();
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', q.format, ...q.args, input, image]);
    console.log(`${name}: built ${(fs.statSync(image).size / MiB).toFixed(0)} MiB in ${secs(t)} s`);
    const out = path.join(dir, 'out.raw');
    // Interleaved runs, each into a fresh output file, so disk noise hits both sides alike.
    const times: { qemu: number[]; read: number[]; toRaw: number[] } = { qemu: [], read: [], toRaw: [] };
    for (let run = 0; run < RUNS; run++) {
      fs.rmSync(out, { force: true });
      times.qemu.push(await timed(async () => void execFileSync('qemu-img', ['convert', '-f', q.format, '-O', 'raw', image, out])));
      times.read.push(await timed(() => readAll(image, q.ours, null)));
      fs.rmSync(out, { force: true });
      times.toRaw.push(await timed(() => readAll(image, q.ours, out)));
    }
    fs.rmSync(out, { force: true });
    const [qemu, read, toRaw] = [median(times.qemu), median(times.read), median(times.toRaw)];
    fs.rmSync(image);
    const mbs = (s: number) => (DATA / 1e6 / s).toFixed(0);
    rows.push([name, qemu.toFixed(2), read.toFixed(2), toRaw.toFixed(2), mbs(read), mbs(toRaw), (toRaw / qemu).toFixed(2)]);
  }
  console.log('');
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(12) : c.padStart(17))).join(''));
}

/**
 * Inspects and streams every chunk; with `out`, writes the non-null chunks into a sparse raw file through FileWriter,
 * the writer exports use (O_DIRECT from staging buffers, several writes in flight, fsync'd at the end).
 */
async function readAll(file: string, declared: ImportFormat, out: string | null): Promise<void> {
  const src = await openFileSource(file);
  let writer: FileWriter | undefined;
  try {
    const inspection = await inspect(src, { declared });
    if (out) writer = await FileWriter.create(out, { size: inspection.virtualSize });
    const reader = await openReader(src, inspection);
    for await (const c of reader.chunks()) if (c.data && writer) await writer.write(c.data, c.index * CHUNK_SIZE);
    await writer?.finish();
  } finally {
    await writer?.close();
    await src.close();
  }
}

async function timed(f: () => Promise<void>): Promise<number> {
  dropCaches(DROP_CACHES);
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}


function secs(t: number): string {
  return ((performance.now() - t) / 1000).toFixed(2);
}
