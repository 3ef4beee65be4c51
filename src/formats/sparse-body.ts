/**
 * A sparse file as an HTTP body (`Content-Type: application/vnd.imagehouse.sparse`), so `bucket put` of a mostly
 * empty raw disk sends its data and not its holes:
 *   "IHSPARSE" · size (u64 BE) · frames, each: offset (u64 BE) · length (u64 BE) · `length` bytes
 * Frames ascend and do not overlap; bytes no frame covers are zeros. The receiver writes frames at their offsets
 * into a file of `size` bytes (holes stay holes), or expands them back to plain bytes for a store that needs them.
 * Senders: the CLI's `bucket put` (cli/sparse-file.ts), and the server's answers to downloads that accept this type
 * (objects and disk content, when `Accept` names it). Receivers: the server's object store and the CLI's downloads.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isAllZero } from '../domain/disk.ts';
import { fail } from './errors.ts';
import { FileWriter } from './writers/file.ts';
import { chunksOf } from './stream-chunks.ts';
import type { ChunkBufferPool } from './buffer-pool.ts';

export const SPARSE_CONTENT_TYPE = 'application/vnd.imagehouse.sparse';
const MAGIC = Buffer.from('IHSPARSE');
const PIECE = 4 * 1024 * 1024;

/** The body's first 16 bytes. */
export function sparseHeader(size: number): Buffer {
  return Buffer.concat([MAGIC, u64(size)]);
}

/** A frame's 16-byte header; its `length` bytes follow. */
export function sparseFrameHeader(offset: number, length: number): Buffer {
  return Buffer.concat([u64(offset), u64(length)]);
}

/** Whether an `Accept` header asks for a sparse body. */
export function acceptsSparse(accept: string | string[] | undefined): boolean {
  return [accept ?? []].flat().some((a) => a.split(',').some((t) => t.split(';')[0].trim().toLowerCase() === SPARSE_CONTENT_TYPE));
}

/** Zero runs are found, and left out of a body, in blocks of this size (the file systems' allocation granularity). */
export const HOLE_UNIT = 64 * 1024;

/** Data at an offset, for `sparseBody`. */
export interface SparsePiece {
  offset: number;
  data: Buffer;
}

/**
 * The sparse body of `size` bytes whose data comes as `pieces` at ascending, non-overlapping offsets (bytes no piece
 * covers are zeros). All-zero HOLE_UNIT blocks of a piece are left out, so written zeros travel as holes too. Frames
 * are views of the pieces' buffers.
 */
export async function* sparseBody(size: number, pieces: AsyncIterable<SparsePiece>): AsyncIterable<Buffer> {
  yield sparseHeader(size);
  for await (const { offset, data } of pieces) {
    let run = -1;
    for (let at = 0; at < data.length; at += HOLE_UNIT) {
      const end = Math.min(at + HOLE_UNIT, data.length);
      const zero = isAllZero(data.subarray(at, end));
      if (!zero && run < 0) run = at;
      if (zero && run >= 0) {
        yield* frame(offset + run, data.subarray(run, at));
        run = -1;
      }
    }
    if (run >= 0) yield* frame(offset + run, data.subarray(run));
  }
}

function* frame(offset: number, data: Buffer): Iterable<Buffer> {
  yield sparseFrameHeader(offset, data.length);
  yield data;
}

/** Read size of a file's data extents. */
const READ_PIECE = 4 * 1024 * 1024;

/**
 * The data extents ([offset, end) pairs) of an open file as pieces read READ_PIECE at a time. With `reuse`, every
 * piece is read into one buffer, overwritten when the next piece is asked for: only for a consumer that is done
 * with a piece by then (the CLI's uploader is; a stream that buffers ahead is not).
 */
export async function* extentPieces(file: FileHandle, extents: readonly [number, number][], opts: { reuse?: boolean } = {}): AsyncIterable<SparsePiece> {
  const longest = extents.reduce((n, [a, b]) => Math.max(n, Math.min(READ_PIECE, b - a)), 0);
  const shared = opts.reuse ? Buffer.allocUnsafe(longest) : undefined;
  for (const [start, end] of extents) {
    for (let at = start; at < end; at += READ_PIECE) {
      const length = Math.min(READ_PIECE, end - at);
      const buf = shared ? shared.subarray(0, length) : Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(buf, 0, length, at);
      if (bytesRead === 0) return; // the file shrank meanwhile
      yield { offset: at, data: buf.subarray(0, bytesRead) };
    }
  }
}

/** What a sparse body holds, in order: its size once, then its data in pieces at their offsets. */
export type SparsePart = { size: number } | { offset: number; data: Buffer };

/** A sparse body read as it arrives: `push` returns the parts a piece completes; malformed input raises FormatError ('malformed'). */
export class SparseDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private size: number | undefined;
  private frame: { at: number; left: number } | undefined;
  private next = 0;

  push(raw: Uint8Array): SparsePart[] {
    const parts: SparsePart[] = [];
    let pending = this.pending.length ? Buffer.concat([this.pending, raw]) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    for (;;) {
      if (this.size === undefined) {
        if (pending.length < 16) break;
        if (!pending.subarray(0, 8).equals(MAGIC)) fail('malformed', 'not a sparse body');
        this.size = readU64(pending, 8);
        pending = pending.subarray(16);
        parts.push({ size: this.size });
        continue;
      }
      if (!this.frame) {
        if (pending.length < 16) break;
        const at = readU64(pending, 0);
        const length = readU64(pending, 8);
        if (at < this.next || length === 0 || at + length > this.size) fail('malformed', 'sparse body frames must ascend, not overlap and stay inside the size');
        this.frame = { at, left: length };
        this.next = at + length;
        pending = pending.subarray(16);
        continue;
      }
      if (pending.length === 0) break;
      const { at, left } = this.frame;
      const n = Math.min(left, pending.length);
      parts.push({ offset: at, data: pending.subarray(0, n) });
      this.frame = left === n ? undefined : { at: at + n, left: left - n };
      pending = pending.subarray(n);
    }
    this.pending = pending;
    return parts;
  }

  /** Raises when the body stopped before its header or inside a frame. */
  end(): void {
    if (this.size === undefined || this.frame || this.pending.length) fail('malformed', 'sparse body ends early');
  }
}

/** Reads a sparse body; a malformed one raises FormatError ('malformed'). */
export async function* decodeSparse(body: AsyncIterable<Uint8Array>): AsyncIterable<SparsePart> {
  const decoder = new SparseDecoder();
  for await (const raw of body) yield* decoder.push(raw);
  decoder.end();
}

/** Writes a sparse body into `path` (holes where no frame wrote), synced; returns its size. */
export async function writeSparseFile(body: Readable, path: string, staging?: ChunkBufferPool): Promise<number> {
  const decoder = new SparseDecoder();
  let file: FileWriter | undefined;
  let size = 0;
  const open = async (n: number) => void (file = await FileWriter.create(path, { size: (size = n), staging }));
  const writePart = (part: SparsePart) => ('size' in part ? open(part.size) : file!.write(part.data, part.offset));
  const writeParts = (parts: SparsePart[], from = 0): Promise<void> | undefined => {
    for (let i = from; i < parts.length; i++) {
      const wait = writePart(parts[i]);
      if (wait) return wait.then(() => writeParts(parts, i + 1));
    }
    return undefined;
  };
  try {
    for await (const chunk of chunksOf(body)) await writeParts(decoder.push(chunk));
    decoder.end();
    await file!.finish();
  } finally {
    await file?.close();
  }
  return size;
}

/** The plain bytes of a sparse body, zeros included (for an object store that cannot hold holes). */
export async function* expandSparse(body: AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  const zeros = Buffer.alloc(PIECE);
  let size = 0;
  let at = 0;
  const fill = function* (to: number) {
    for (; at < to; at += Math.min(PIECE, to - at)) yield zeros.subarray(0, Math.min(PIECE, to - at));
  };
  for await (const part of decodeSparse(body)) {
    if ('size' in part) { size = part.size; continue; }
    yield* fill(part.offset);
    yield part.data;
    at += part.data.length;
  }
  yield* fill(size);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function readU64(b: Buffer, at: number): number {
  const v = b.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('malformed', 'sparse body offset too large');
  return Number(v);
}
