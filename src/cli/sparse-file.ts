/** Sparse files both ways: a download saved with holes, and an upload that sends data and not holes. */
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { isAllZero } from '../domain/disk.ts';
import { sparseFrameHeader, sparseHeader } from '../formats/sparse-body.ts';

/** The granularity of holes: the file system allocates in blocks, so zero runs are found in these units. */
const HOLE_UNIT = 64 * 1024;

/**
 * Writes `body` into `out` from its start and returns the byte count. Pieces are regrouped into aligned
 * HOLE_UNIT blocks; a block of zeros is skipped (seeked over) instead of written. The file is truncated
 * to the full length, so trailing zeros are holes too, and synced before it is closed.
 */
export async function saveSparse(body: ReadableStream<Uint8Array>, out: string, onBytes?: (n: number) => void): Promise<number> {
  const file = await fs.promises.open(out, 'w');
  const block = Buffer.alloc(HOLE_UNIT);
  let filled = 0;
  let position = 0;
  const flush = async () => {
    if (filled > 0 && !isAllZero(block.subarray(0, filled))) await file.write(block, 0, filled, position);
    position += filled;
    filled = 0;
  };
  try {
    for await (const piece of Readable.fromWeb(body as never)) {
      const buf = piece as Buffer;
      onBytes?.(buf.length);
      for (let at = 0; at < buf.length;) {
        const n = Math.min(HOLE_UNIT - filled, buf.length - at);
        buf.copy(block, filled, at, at + n);
        filled += n;
        at += n;
        if (filled === HOLE_UNIT) await flush();
      }
    }
    await flush();
    await file.truncate(position);
    await file.sync();
  } finally {
    await file.close();
  }
  return position;
}

/** Read size of an upload's data extents. */
const SEND_PIECE = 4 * 1024 * 1024;

/**
 * The data extents of `file` as [offset, end) pairs, from SEEK_DATA/SEEK_HOLE (Node has no lseek, so through
 * xfsprogs' `xfs_io`); undefined when that is not available (the caller sends the file as it is).
 */
export async function dataExtents(file: string): Promise<[number, number][] | undefined> {
  let out: string;
  try {
    out = (await promisify(execFile)('xfs_io', ['-r', '-c', 'seek -a -r 0', file])).stdout;
  } catch {
    return undefined;
  }
  const size = (await fs.promises.stat(file)).size;
  const marks = [...out.matchAll(/^(DATA|HOLE)\t(\d+|EOF)$/gm)].map((m) => ({ data: m[1] === 'DATA', at: m[2] === 'EOF' ? size : Number(m[2]) }));
  if (marks.length === 0) return undefined;
  const extents: [number, number][] = [];
  marks.forEach((m, i) => {
    const end = marks[i + 1]?.at ?? size;
    if (m.data && end > m.at) extents.push([m.at, end]);
  });
  return extents;
}

/**
 * The sparse body of `file` given its data extents; all-zero pieces inside extents are left out too. Data is read
 * into one buffer, reused once the next piece is asked for (as the uploader does: cli/api.ts).
 */
export async function* encodeSparse(file: string, extents: [number, number][], onBytes?: (n: number) => void): AsyncIterable<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    yield sparseHeader(size);
    const buf = Buffer.allocUnsafe(extents.reduce((n, [a, b]) => Math.max(n, Math.min(SEND_PIECE, b - a)), 0));
    let reported = 0;
    for (const [start, end] of extents) {
      for (let at = start; at < end; at += SEND_PIECE) {
        const piece = buf.subarray(0, Math.min(SEND_PIECE, end - at));
        const { bytesRead } = await fh.read(piece, 0, piece.length, at);
        const data = piece.subarray(0, bytesRead);
        if (bytesRead > 0 && !isAllZero(data)) {
          yield sparseFrameHeader(at, bytesRead);
          yield data;
        }
        onBytes?.(at + bytesRead - reported);
        reported = at + bytesRead;
      }
    }
    onBytes?.(size - reported);
  } finally {
    await fh.close();
  }
}

