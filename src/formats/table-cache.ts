/**
 * Keeps recently used metadata tables (qcow2 L2 tables, VMDK grain tables, VHD bitmaps) within a byte budget.
 * Readers walk the disk in order, so a small budget holds everything the current chunk needs.
 */
export class TableCache<K> {
  private readonly tables = new Map<K, Buffer>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  async get(key: K, load: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.tables.get(key);
    if (hit) return hit;
    const table = await load();
    this.tables.set(key, table);
    this.bytes += table.length;
    for (const [k, t] of this.tables) {
      if (this.bytes <= this.budget || k === key) break;
      this.tables.delete(k);
      this.bytes -= t.length;
    }
    return table;
  }
}
