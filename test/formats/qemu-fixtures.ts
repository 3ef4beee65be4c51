/** Test helpers: temp dirs, qemu-img as fixture builder and oracle, and hashing a reader's output. */
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHUNK_SIZE, chunkLength } from '../../src/domain/disk.ts';
import { inspect, openFileSource, openReader } from '../../src/formats/index.ts';
import type { ImportFormat, Inspection, InspectOptions } from '../../src/formats/types.ts';
import { toApiError } from '../../src/services/errors.ts';

export const MiB = 1024 * 1024;

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ih-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function qemuIo(file: string, format: string, ...commands: string[]): void {
  execFileSync('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), file], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Extent {
  offset: number;
  length: number;
  /** 'random' bytes, or a byte value (0 writes explicit zeros, which allocates them in the raw file). */
  fill: 'random' | number;
}

/** A sparse raw file of `size` bytes with the given extents written. */
export function makeSparseRaw(file: string, size: number, extents: Extent[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const e of extents) {
      const buf = e.fill === 'random' ? randomFillSync(Buffer.alloc(e.length)) : Buffer.alloc(e.length, e.fill);
      fs.writeSync(fd, buf, 0, buf.length, e.offset);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** 37 MiB + 512 bytes: not a multiple of 4 MiB (nor of most cluster, grain and block sizes). */
export const ODD_SIZE = 37 * MiB + 512;

/** Data in several chunks, some unaligned, an explicit zero run, an unallocated gap, and the very last sector. */
export const ODD_EXTENTS: Extent[] = [
  { offset: 0, length: MiB + 4096, fill: 'random' },
  { offset: 3 * MiB + 512, length: 2 * MiB, fill: 'random' },
  { offset: 9 * MiB, length: 3 * MiB, fill: 0 },
  { offset: 13 * MiB + 1536, length: 700 * 1024, fill: 0x5a },
  { offset: 20 * MiB - 512, length: 1024, fill: 'random' },
  { offset: 33 * MiB, length: 64 * 1024, fill: 'random' },
  { offset: ODD_SIZE - 512, length: 512, fill: 'random' },
];

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 * MiB);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** sha256 of `qemu-img convert -O raw` of the fixture: the oracle. */
export function qemuRawSha256(file: string, format: string, dir: string): { sha256: string; size: number } {
  const out = path.join(dir, `oracle-${path.basename(file)}.raw`);
  qemuImg('convert', '-f', format, '-O', 'raw', file, out);
  try {
    return { sha256: sha256File(out), size: fs.statSync(out).size };
  } finally {
    fs.rmSync(out, { force: true });
  }
}

export interface StreamResult {
  inspection: Inspection;
  sha256: string;
  chunks: number;
  nullChunks: number;
}

/** Inspects the file and streams it through the reader, checking chunk order and lengths as it goes. */
export async function streamFile(file: string, opts: InspectOptions = {}): Promise<StreamResult> {
  const src = await openFileSource(file);
  try {
    const inspection = await inspect(src, opts);
    const reader = await openReader(src, inspection);
    const hash = createHash('sha256');
    const zero = Buffer.alloc(CHUNK_SIZE);
    let chunks = 0;
    let nullChunks = 0;
    for await (const c of reader.chunks()) {
      if (c.index !== chunks) throw new Error(`chunk ${c.index} came when ${chunks} was expected`);
      const length = chunkLength(reader.virtualSize, c.index);
      if (c.data && c.data.length !== length) throw new Error(`chunk ${c.index} has ${c.data.length} bytes, expected ${length}`);
      if (!c.data) nullChunks++;
      hash.update(c.data ?? zero.subarray(0, length));
      chunks++;
    }
    return { inspection, sha256: hash.digest('hex'), chunks, nullChunks };
  } finally {
    await src.close();
  }
}

/** Expects `promise` to reject with an error that the API reports as `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    const got = toApiError(e).code;
    if (got === code) return;
    throw new Error(`expected ${code}, got ${got}: ${(e as Error).message}`);
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** Inspects a file on disk with the given declared format. */
export async function inspectFile(file: string, declared?: ImportFormat, opts: InspectOptions = {}): Promise<Inspection> {
  const src = await openFileSource(file);
  try {
    return await inspect(src, { ...opts, declared });
  } finally {
    await src.close();
  }
}

export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    fs.readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

export function patch(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function u64be(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export function u64le(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** A copy of `file` under a new name in the same directory. */
export function copyTo(file: string, name: string): string {
  const out = path.join(path.dirname(file), name);
  fs.copyFileSync(file, out);
  return out;
}

/**
 * qemu-img times PBKDF2 with getrusage at millisecond resolution and gives up with "Unable to get accurate CPU
 * usage" when a fast CPU measures 0 ms; that is noise, so retry.
 */
export function createLuks(create: () => void): void {
  for (let attempt = 1; ; attempt++) {
    try {
      create();
      return;
    } catch (e) {
      if (attempt >= 20 || !/accurate CPU usage/.test(String((e as { stderr?: string }).stderr ?? e))) throw e;
    }
  }
}
