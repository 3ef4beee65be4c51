/**
 * A sparse file as an HTTP body (`Content-Type: application/vnd.imagehouse.sparse`), so `bucket put` of a mostly
 * empty raw disk sends its data and not its holes:
 *   "IHSPARSE" · size (u64 BE) · frames, each: offset (u64 BE) · length (u64 BE) · `length` bytes
 * Frames ascend and do not overlap; bytes no frame covers are zeros. The receiver writes frames at their offsets
 * into a file of `size` bytes (holes stay holes), or expands them back to plain bytes for a store that needs them.
 * The sender is the CLI (cli/sparse-file.ts).
 */
import { fail } from './errors.ts';
import { FileWriter } from './writers/file.ts';

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

/** What a sparse body holds, in order: its size once, then its data in pieces at their offsets. */
export type SparsePart = { size: number } | { offset: number; data: Buffer };

/** Reads a sparse body; a malformed one raises FormatError ('malformed'). */
export async function* decodeSparse(body: AsyncIterable<Uint8Array>): AsyncIterable<SparsePart> {
  let pending: Buffer = Buffer.alloc(0);
  let size: number | undefined;
  let frame: { at: number; left: number } | undefined;
  let next = 0;
  for await (const raw of body) {
    pending = pending.length ? Buffer.concat([pending, raw]) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    for (;;) {
      if (size === undefined) {
        if (pending.length < 16) break;
        if (!pending.subarray(0, 8).equals(MAGIC)) fail('malformed', 'not a sparse body');
        size = readU64(pending, 8);
        pending = pending.subarray(16);
        yield { size };
        continue;
      }
      if (!frame) {
        if (pending.length < 16) break;
        const at = readU64(pending, 0);
        const length = readU64(pending, 8);
        if (at < next || length === 0 || at + length > size) fail('malformed', 'sparse body frames must ascend, not overlap and stay inside the size');
        frame = { at, left: length };
        next = at + length;
        pending = pending.subarray(16);
        continue;
      }
      if (pending.length === 0) break;
      const n = Math.min(frame.left, pending.length);
      yield { offset: frame.at, data: pending.subarray(0, n) };
      frame = frame.left === n ? undefined : { at: frame.at + n, left: frame.left - n };
      pending = pending.subarray(n);
    }
  }
  if (size === undefined || frame || pending.length) fail('malformed', 'sparse body ends early');
}

/** Writes a sparse body into `path` (holes where no frame wrote), synced; returns its size. */
export async function writeSparseFile(body: AsyncIterable<Uint8Array>, path: string): Promise<number> {
  let file: FileWriter | undefined;
  let size = 0;
  try {
    for await (const part of decodeSparse(body)) {
      if ('size' in part) file = await FileWriter.create(path, { size: (size = part.size) });
      else await file!.write(part.data, part.offset);
    }
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
