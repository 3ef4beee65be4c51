/** How much of a file the page cache holds, through util-linux's `fincore` (Node has no mincore). */
import { execFile } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Bytes of the open file `fh` in the page cache (the file opened, even if its path now names another); undefined
 * when `fincore` is not available. It maps the file to ask the kernel: the file's content is never read.
 */
export async function cachedBytes(fh: FileHandle): Promise<number | undefined> {
  try {
    const { stdout } = await promisify(execFile)('fincore', ['--bytes', '--noheadings', '--output', 'RES', `/proc/${process.pid}/fd/${fh.fd}`]);
    const n = Number(stdout.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
