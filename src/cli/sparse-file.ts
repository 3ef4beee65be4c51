/** Sparse files both ways: a download saved with holes, and an upload that sends data and not holes. */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { isAllZero } from '../domain/disk.ts';
import { extentPieces, HOLE_UNIT, SPARSE_CONTENT_TYPE, sparseBody, writeSparseFile } from '../formats/sparse-body.ts';

/** Downloads ask for a sparse body (the server leaves the holes out); a server or proxy that ignores this sends bytes. */
export const ACCEPT_SPARSE = { accept: `${SPARSE_CONTENT_TYPE}, application/octet-stream;q=0.5` };

/** Saves a download into `out` with its holes, whichever body came (sparse or plain bytes); returns its length. */
export async function saveDownload(res: Response, out: string): Promise<number> {
  if (!res.body) throw new Error('the response has no body');
  if (res.headers.get('content-type') === SPARSE_CONTENT_TYPE) return writeSparseFile(Readable.fromWeb(res.body as never), out);
  return saveSparse(res.body, out);
}

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

/**
 * The sparse body of `file` given its data extents (formats/data-extents.ts); all-zero blocks inside extents are
 * left out too. Data is read into one buffer, reused once the next piece is asked for (as the uploader does:
 * cli/api.ts). `onBytes` counts the file's bytes as they are passed, holes included.
 */
export async function* encodeSparse(file: string, extents: [number, number][], onBytes?: (n: number) => void): AsyncIterable<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    let reported = 0;
    const counted = async function* () {
      for await (const piece of extentPieces(fh, extents, { reuse: true })) {
        yield piece;
        const to = piece.offset + piece.data.length;
        onBytes?.(to - reported);
        reported = to;
      }
    };
    yield* sparseBody(size, counted());
    onBytes?.(size - reported);
  } finally {
    await fh.close();
  }
}
