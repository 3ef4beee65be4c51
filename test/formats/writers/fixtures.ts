/** Raw disk fixtures for the writer tests, built with node in a temp dir, plus qemu-img as the oracle. */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Bytes written at `offset`: random data, or an explicit run of zeros (allocated on disk but zero). */
export interface Extent {
  offset: number;
  length: number;
  zeros?: boolean;
}

export interface Fixture {
  name: string;
  size: number;
  extents: Extent[];
}

/**
 * The standard set: sparse with size not a multiple of 4 MiB (incl. a partial last 64 KiB block with data),
 * exactly 4 MiB, one 1 MiB chunk, one spanning three qcow2 L2 tables and several VMDK grain tables,
 * an all-zero one, and one whose size is not a multiple of 512.
 */
export const FIXTURES: Fixture[] = [
  {
    name: 'sparse-37m512',
    size: 37 * MiB + 512,
    extents: [
      { offset: 0, length: 1 * MiB },
      { offset: 2 * MiB - 4 * KiB, length: 8 * KiB }, // crosses a VHD block boundary
      { offset: 5 * MiB + 128 * KiB, length: 64 * KiB },
      { offset: 9 * MiB + 3, length: 5 },
      { offset: 12 * MiB, length: 2 * MiB, zeros: true },
      { offset: 33 * MiB, length: 300 * KiB }, // second VMDK grain table
      { offset: 37 * MiB - 100 * KiB, length: 100 * KiB + 512 }, // to the very end
    ],
  },
  { name: 'exact-4m', size: 4 * MiB, extents: [{ offset: 0, length: 2 * MiB + 17 }] },
  {
    name: 'one-1m',
    size: 1 * MiB,
    extents: [
      { offset: 100, length: 1000 },
      { offset: 1 * MiB - 64 * KiB, length: 64 * KiB },
    ],
  },
  {
    name: 'wide-1g64k',
    size: 1024 * MiB + 64 * KiB,
    extents: [
      { offset: 3 * MiB, length: 1 * MiB },
      { offset: 512 * MiB - 32 * KiB, length: 64 * KiB }, // straddles the first L2 table boundary
      { offset: 1024 * MiB, length: 64 * KiB }, // the third L2 table's only cluster
    ],
  },
  { name: 'all-zero-8m', size: 8 * MiB, extents: [{ offset: 1 * MiB, length: 1 * MiB, zeros: true }] },
  { name: 'odd-3m100', size: 3 * MiB + 100, extents: [{ offset: 3 * MiB, length: 100 }] },
];

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ih-'));
}

export function buildFixture(dir: string, f: Fixture): string {
  const file = path.join(dir, `${f.name}.raw`);
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, f.size);
    for (const e of f.extents) {
      const buf = e.zeros ? Buffer.alloc(e.length) : randomFillSync(Buffer.alloc(e.length));
      if (!e.zeros) buf[0] |= 1; // guarantee the extent is non-zero
      fs.writeSync(fd, buf, 0, buf.length, e.offset);
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** Non-zero 64 KiB blocks of a raw file, counted independently of the code under test. */
export function countNonZeroBlocks(file: string, blockSize: number): number {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(blockSize);
  const zero = Buffer.alloc(blockSize);
  let n = 0;
  try {
    for (let off = 0; off < size; off += blockSize) {
      const len = fs.readSync(fd, buf, 0, blockSize, off);
      if (!buf.subarray(0, len).equals(zero.subarray(0, len))) n++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

export function qemuImg(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function qemuInfo(file: string, format: string): { 'virtual-size': number; format: string } {
  return JSON.parse(execFileSync('qemu-img', ['info', '-f', format, '--output=json', file], { encoding: 'utf8' }));
}

/** `qemu-img compare` of the raw input and an export; returns qemu-img's verdict line. */
export function qemuCompare(raw: string, out: string, format: string): { status: number; message: string } {
  const r = qemuImg(['compare', '-f', 'raw', '-F', format, raw, out]);
  return { status: r.status, message: (r.stdout + r.stderr).trim() };
}

export interface BuiltFixture extends Fixture {
  raw: string;
}

/** Builds every fixture (or those named) in a fresh temp dir; call `cleanup` in `after`. */
export function buildFixtures(names?: string[]): { dir: string; fixtures: BuiltFixture[]; cleanup(): void } {
  const dir = tempDir();
  const chosen = names ? FIXTURES.filter((f) => names.includes(f.name)) : FIXTURES;
  const fixtures = chosen.map((f) => ({ ...f, raw: buildFixture(dir, f) }));
  return { dir, fixtures, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Drains an export stream, returning its total length and sha256. */
export async function drain(stream: AsyncIterable<Buffer>): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const b of stream) {
    h.update(b);
    bytes += b.length;
  }
  return { bytes, sha256: h.digest('hex') };
}

export function sha256File(file: string): string {
  const h = createHash('sha256');
  forEachBlock(file, (b) => h.update(b));
  return h.digest('hex');
}

/** True when both files have the same length and bytes. */
export function sameBytes(a: string, b: string): boolean {
  if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  const fd = fs.openSync(b, 'r');
  const other = Buffer.alloc(4 * MiB);
  let pos = 0;
  let same = true;
  try {
    forEachBlock(a, (block) => {
      if (!same) return;
      const n = fs.readSync(fd, other, 0, block.length, pos);
      same = n === block.length && block.equals(other.subarray(0, n));
      pos += block.length;
    });
  } finally {
    fs.closeSync(fd);
  }
  return same;
}

function forEachBlock(file: string, fn: (block: Buffer) => void): void {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(4 * MiB);
  try {
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      fn(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
