/**
 * Reusable 4 MiB buffers for the data plane: chunk reads and imports, upload pieces, FileWriter's staging; one pool
 * (the data plane's), handed to whoever needs it. A fresh Buffer per chunk costs page faults on first write (reads
 * into it run at ~1 GB/s instead of ~10) and GC plus munmap work when it dies: about half the CPU of a re-import
 * (bench/import.ts); a fresh WebAssembly memory per file cost 0.2–0.6 s of GC per 512 MiB bucket put. Readers
 * allocate chunk buffers here and the importer releases them once stored.
 */
import { CHUNK_SIZE } from '../domain/disk.ts';
import { alignedBuffer } from './aligned-memory.ts';

export class ChunkBufferPool {
  private readonly free: Buffer[] = [];

  /** `maxIdle` bounds the memory the pool keeps when nothing is using it (default 16 × 4 MiB). */
  constructor(private readonly maxIdle = 16) {}

  /**
   * A buffer of `length` bytes with unspecified content that owns its whole (shared) memory: full chunks are
   * page-aligned, so the chunk store and FileWriter write them with O_DIRECT (aligned-memory.ts).
   */
  acquire(length: number): Buffer {
    if (length === CHUNK_SIZE) return this.free.pop() ?? alignedBuffer(length);
    return Buffer.allocUnsafeSlow(length);
  }

  /** Hands a buffer back. The caller must not touch it afterwards. Odd sizes and views are dropped. */
  release(buf: Buffer): void {
    if (buf.length !== CHUNK_SIZE || buf.byteOffset !== 0 || buf.buffer.byteLength !== CHUNK_SIZE) return;
    if (this.free.length < this.maxIdle) this.free.push(buf);
  }

  get idle(): number {
    return this.free.length;
  }
}
