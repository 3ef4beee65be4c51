import { ChunkBufferPool } from '../../src/formats/buffer-pool.ts';

/** A buffer pool that counts the buffers taken from it, to show what a writer or spool holds at once. */
export class CountingPool extends ChunkBufferPool {
  acquired = 0;

  override acquire(length: number): Buffer {
    this.acquired++;
    return super.acquire(length);
  }
}
