/** Helpers shared by the benchmarks: the sparse random input they all measure on, and how they report. */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';

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
