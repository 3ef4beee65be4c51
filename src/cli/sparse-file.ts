/** Saving a download to a file so that all-zero pieces become holes: a mostly empty disk stays sparse. */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { isAllZero } from '../domain/disk.ts';

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
