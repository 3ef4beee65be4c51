/**
 * Export throughput: our qcow2 / dynamic VHD writers (from a raw-file VirtualDisk, written to a file and
 * fsynced) against qemu-img convert -t writeback (one fdatasync at close) on the same sparse raw input.
 * Anchor (docs/specs disk-formats §3.5): qemu-img convert to vpc dynamic 0.78 s unsafe / 3.09 s writeback
 * for 1 GiB of data in 4 GiB virtual.
 *
 * Env: EXPORT_BENCH_VIRTUAL_MIB (default 4096), EXPORT_BENCH_DATA_MIB (default 1024, as 64 equal random extents),
 *      EXPORT_BENCH_RUNS (default 3, median reported), EXPORT_BENCH_FORMATS (default qcow2,vhd; also raw, vmdk),
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
import { buildSparseRaw, median, printTable } from './support.ts';

const MiB = 1024 * 1024;
const VIRTUAL = Number(process.env.EXPORT_BENCH_VIRTUAL_MIB ?? 4096) * MiB;
const DATA = Number(process.env.EXPORT_BENCH_DATA_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.EXPORT_BENCH_RUNS ?? 3);
const FORMATS = (process.env.EXPORT_BENCH_FORMATS ?? 'qcow2,vhd').split(',') as ExportFormat[];
const DROP_CACHES = process.env.EXPORT_BENCH_DROP_CACHES === '1';
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
  const disk = await openRawVirtualDisk(input);
  console.log(`zero masks computed in ${secs(t)} s (the chunk store keeps them; not part of an export)`);
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

