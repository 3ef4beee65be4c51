/** Helpers shared by the benchmarks: the sparse random input they all measure on, and how they report. */
import fs from 'node:fs';
import { execFile, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createCipheriv, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, ImageRow } from '../src/store/schema.ts';
import type { LoadResult, LoadSpec } from './load-generator.ts';

export const MiB = 1024 * 1024;
const STRIDE_UNIT = 4 * MiB;

/**
 * A sparse raw file of `virtual` bytes holding `data` bytes of pseudo-random data (an AES-CTR keystream) in
 * `extents` equal extents spread evenly at 4 MiB-aligned offsets. One reused buffer keeps the RSS flat.
 */
export function buildSparseRaw(file: string, virtual: number, data: number, extents: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, virtual);
    const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
    const extent = data / extents;
    const stride = Math.floor(virtual / extents / STRIDE_UNIT) * STRIDE_UNIT;
    const zero = Buffer.alloc(Math.min(extent, 16 * MiB));
    for (let e = 0; e < extents; e++) {
      for (let done = 0; done < extent; done += zero.length) {
        const n = Math.min(zero.length, extent - done);
        fs.writeSync(fd, cipher.update(zero.subarray(0, n)), 0, n, e * stride + done);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes dirty pages, and drops the page cache when asked (root only), so runs start cold. */
/** A process's CPU seconds so far (utime + stime from /proc, in clock ticks of 10 ms). */
export function cpuSecondsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Where a process's threads spent a stretch of time (Linux schedstat): on a CPU, runnable but waiting for one (the
 * machine's other work), and asleep (waiting for work or I/O). Sampled every 20 ms so threads that exit meanwhile
 * (worker threads) are kept. `stop(wallS)` gives one row per thread that ran at least 10 ms.
 */
export function threadTimes(pid: number): { stop(wallS: number): { tid: string; name: string; run: number; wait: number; asleep: number }[] } {
  const sample = (into: Map<string, { name: string; run: number; wait: number }>) => {
    const dir = `/proc/${pid}/task`;
    for (const tid of fs.readdirSync(dir)) {
      try {
        const [run, wait] = fs.readFileSync(`${dir}/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        const name = fs.readFileSync(`${dir}/${tid}/comm`, 'utf8').trim();
        into.set(tid, { name, run: run / 1e9, wait: wait / 1e9 });
      } catch { /* the thread has exited */ }
    }
  };
  const before = new Map<string, { name: string; run: number; wait: number }>();
  sample(before);
  const during = new Map(before);
  const timer = setInterval(() => sample(during), 20);
  return {
    stop(wallS) {
      clearInterval(timer);
      sample(during);
      return [...during]
        .map(([tid, e]) => {
          const run = e.run - (before.get(tid)?.run ?? 0);
          const wait = e.wait - (before.get(tid)?.wait ?? 0);
          return { tid, name: e.name, run, wait, asleep: Math.max(0, wallS - run - wait) };
        })
        .filter((r) => r.run >= 0.01)
        .sort((a, b) => b.run - a.run);
    },
  };
}

/** `threadTimes` rows as a table. */
export function printThreadTimes(rows: ReturnType<ReturnType<typeof threadTimes>['stop']>): void {
  printTable([['thread', 'name', 'on a CPU s', 'waiting for a CPU s', 'asleep s'],
    ...rows.map((r) => [r.tid, r.name, r.run.toFixed(2), r.wait.toFixed(2), r.asleep.toFixed(2)])]);
}

/** `perf record -g` of `pid` until stopped (SIGINT makes perf write its file). */
export async function startPerf(pid: number, out: string): Promise<{ stop(): Promise<void> }> {
  const child = spawn('perf', ['record', '-g', '-F', '999', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const exited = new Promise((r) => child.once('exit', r));
  return { stop: async () => { child.kill('SIGINT'); await exited; } };
}

export function dropCaches(drop: boolean): void {
  execFileSync('sync');
  if (drop) fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}

export function mbps(bytes: number, seconds: number): string {
  return String(Math.round(bytes / 1e6 / seconds));
}

/** Prints rows as aligned columns (the first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) console.log(r.map((cell, c) => (cell ?? '').padEnd(widths[c])).join('  ').trimEnd());
}

export const seededImageId = (i: number) => `m-bp1${i.toString(36).padStart(17, '0')}`;
export const seededSnapshotId = (i: number) => `s-bp1${i.toString(36).padStart(17, '0')}`;

/** Inserts `count` Available custom images of one owner in cn-hangzhou straight into the store, 500 per statement. */
export async function seedImages(db: Kysely<Database>, ownerId: string, count: number): Promise<void> {
  const families = ['web', 'db', 'cache', 'batch', 'ml'];
  for (let start = 0; start < count; start += 500) {
    const rows: ImageRow[] = [];
    const disks = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const id = seededImageId(i);
      rows.push({
        id, region: 'cn-hangzhou', owner_id: ownerId, name: `img_${families[i % 5]}_${i}`, description: '', family: families[i % 5],
        version: '', category: 'self', status: i % 10 === 0 ? 'Deprecated' : 'Available', progress: 100, os_name: 'CentOS 7.9 64位',
        os_name_en: 'CentOS 7.9 64 bit', os_type: i % 7 === 0 ? 'windows' : 'linux', platform: 'CentOS', architecture: i % 3 === 0 ? 'arm64' : 'x86_64',
        boot_mode: 'BIOS', size_gib: 20, is_support_cloudinit: 1, is_support_io_optimized: 1, product_code: '', license_type: '', license_class: 'none',
        imds_support: 'v1', nvme_support: 'unsupported', source_kind: 'snapshot', source_id: '', is_copied: 0, encrypted: 0, kms_key_id: '',
        is_public: 0, error_code: '', error_message: '', created_at: 1_700_000_000_000 + i * 1000, updated_at: 0,
      });
      disks.push({ image_id: id, idx: 0, type: 'system' as const, device: '/dev/xvda', size_gib: 20, snapshot_id: seededSnapshotId(i), format: '', import_bucket: '', import_object: '', progress: 100 });
    }
    await db.insertInto('images').values(rows).execute();
    await db.insertInto('image_disks').values(disks).execute();
  }
}

/** Runs bench/load-generator.ts in its own process and returns what it measured. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'load-generator.ts'), JSON.stringify(spec)]);
  return JSON.parse(stdout) as LoadResult;
}
