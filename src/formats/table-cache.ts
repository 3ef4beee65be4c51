/**
 * Metadata tables (qcow2 L2 tables, VMDK grain tables, VHD bitmaps): a small cache within a byte budget, and
 * batched reads of tables that sit back to back in the file (qemu preallocates VMDK grain tables that way:
 * a 1 TiB disk has 32768 of them, so one read each would dominate).
 */
import type { ByteSource } from './types.ts';
import { readExact } from './source.ts';

export class TableCache<K> {
  private readonly tables = new Map<K, Buffer>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  async get(key: K, load: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.tables.get(key);
    if (hit) return hit;
    const table = await load();
    this.put(key, table);
    return table;
  }

  put(key: K, table: Buffer): void {
    if (this.tables.has(key)) return;
    this.tables.set(key, table);
    this.bytes += table.length;
    for (const [k, t] of this.tables) {
      if (this.bytes <= this.budget || k === key) break;
      this.tables.delete(k);
      this.bytes -= t.length;
    }
  }
}

/** Largest single read of back-to-back tables. */
export const TABLE_RUN_BYTES = 1024 * 1024;

/**
 * Reads table `from` together with the following tables (up to index `to`, exclusive) that directly follow it in
 * the file, in one read. `offsetOf(k)` gives table k's offset (0 = none) and validates it. Returns one slice per
 * table read, starting with table `from`.
 */
export async function readTableRun(
  src: ByteSource, offsetOf: (k: number) => number, from: number, to: number, size: number, what: string,
): Promise<Buffer[]> {
  const start = offsetOf(from);
  let count = 1;
  while (from + count < to && (count + 1) * size <= TABLE_RUN_BYTES && offsetOf(from + count) === start + count * size) count++;
  const buf = await readExact(src, start, count * size, what);
  return Array.from({ length: count }, (_, k) => buf.subarray(k * size, (k + 1) * size));
}
