/** Writing an export stream to a file with few, large writes, durably. */
import fs from 'node:fs/promises';

const BATCH_BYTES = 8 * 1024 * 1024;
const MAX_IOV = 1024; // Linux IOV_MAX
/** Start writeback early (one datasync in flight) so the final fsync has little left to flush. */
const EARLY_SYNC_BYTES = 64 * 1024 * 1024;

/** Writes every buffer of `source` in order to `path` (created or truncated), fsyncs, returns the length. */
export async function writeStreamToFile(source: AsyncIterable<Buffer>, path: string): Promise<{ bytes: number }> {
  const fh = await fs.open(path, 'w');
  let position = 0;
  try {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let syncing: Promise<void> | null = null;
    let syncError: unknown = null; // kept: Linux reports a writeback error to one fsync only
    let unsynced = 0;
    const flush = async () => {
      let left = batch;
      while (left.length > 0) {
        const { bytesWritten } = await fh.writev(left, position);
        position += bytesWritten;
        left = dropWritten(left, bytesWritten);
      }
      unsynced += batchBytes;
      batch = [];
      batchBytes = 0;
      if (unsynced >= EARLY_SYNC_BYTES && syncing === null) {
        unsynced = 0;
        syncing = fh.datasync().then(
          () => void (syncing = null),
          (e) => void ((syncError ??= e), (syncing = null)),
        );
      }
    };
    for await (const buf of source) {
      if (buf.length === 0) continue;
      batch.push(buf);
      batchBytes += buf.length;
      if (batchBytes >= BATCH_BYTES || batch.length >= MAX_IOV) await flush();
    }
    await flush();
    await syncing;
    if (syncError !== null) throw syncError;
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { bytes: position };
}

/** The buffers still to write after a short writev of `n` bytes. */
function dropWritten(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i].length) n -= bufs[i++].length;
  if (i === bufs.length) return [];
  return [bufs[i].subarray(n), ...bufs.slice(i + 1)];
}
