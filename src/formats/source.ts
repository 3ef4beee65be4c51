/**
 * Byte sources for inspection and reading, and the bounds-checked read helpers every parser uses.
 * Parsers never read a file directly: they only see a ByteSource, so nothing else on the host is reachable.
 */
import { open } from 'node:fs/promises';
import { fail } from './errors.ts';
import type { ByteSource } from './types.ts';
import { holeyFileExtents } from './data-extents.ts';

export interface ClosableByteSource extends ByteSource {
  close(): Promise<void>;
}

/** A read-only source over a local file (a spooled upload). The size and, for a file with holes, its data extents are fixed at open time. */
export async function openFileSource(path: string): Promise<ClosableByteSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const dataExtents = await holeyFileExtents(handle);
    return {
      size,
      dataExtents,
      async read(buf, offset, length, position) {
        const { bytesRead } = await handle.read(buf, offset, length, position);
        return bytesRead;
      },
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** An in-memory source, for tests and small fixtures. */
export function bufferSource(data: Buffer): ByteSource {
  return {
    size: data.length,
    async read(buf, offset, length, position) {
      if (position >= data.length) return 0;
      return data.copy(buf, offset, position, Math.min(data.length, position + length));
    },
  };
}

/**
 * Fills `buf[offset, offset+length)` from `position`, looping over short reads.
 * Fails ('truncated') when the source ends first; `what` names the structure for the message.
 */
export async function readInto(
  src: ByteSource, buf: Buffer, offset: number, length: number, position: number, what: string,
): Promise<void> {
  if (!(position >= 0) || !Number.isSafeInteger(position + length) || position + length > src.size) {
    fail('truncated', `${what} (${length} bytes at offset ${position}) ends beyond the end of the file (${src.size} bytes)`);
  }
  let done = 0;
  while (done < length) {
    const n = await src.read(buf, offset + done, length - done, position + done);
    if (n <= 0) fail('truncated', `${what}: the file ended at ${position + done}`);
    done += n;
  }
}

/** Reads exactly `length` bytes at `position` into a new buffer (see readInto). */
export async function readExact(src: ByteSource, position: number, length: number, what = 'data'): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  await readInto(src, buf, 0, length, position, what);
  return buf;
}

/** Reads up to `length` bytes at `position`, clipped at the end of the file. */
export async function readClipped(src: ByteSource, position: number, length: number, what = 'data'): Promise<Buffer> {
  const n = Math.max(0, Math.min(length, src.size - position));
  return readExact(src, position, n, what);
}
