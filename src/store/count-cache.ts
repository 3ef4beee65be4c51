/**
 * Listing counts (DescribeImages' TotalCount) cached until the next write to a table they depend on.
 * Only for the embedded SQLite store: one process owns the database and better-sqlite3 runs every
 * statement, and every transaction, to completion on one connection, so a count can never be computed
 * from a write that is half done. Several processes on PostgreSQL would need a shared generation: no cache there.
 */
export const COUNTED_TABLES = new Set(['images', 'image_shares', 'tags', 'image_disks', 'instances']);
const WRITE = /^\s*(?:insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from|replace\s+into)\s+"?([A-Za-z_]+)"?/i;

/** The table a statement writes (lower case), or undefined for a read. */
export function writtenTable(sql: string): string | undefined {
  return WRITE.exec(sql)?.[1].toLowerCase();
}

export class CountCache implements ListingCounts {
  private generation = 0;
  private readonly entries = new Map<string, { generation: number; value: number }>();

  constructor(private readonly max = 2000) {}

  /** Called with every statement the database prepares; a write to a counted table invalidates every entry. */
  observe(sql: string): void {
    const table = writtenTable(sql);
    if (table && COUNTED_TABLES.has(table)) this.generation++;
  }

  async get(key: string, compute: () => Promise<number>): Promise<number> {
    const hit = this.entries.get(key);
    if (hit && hit.generation === this.generation) return hit.value;
    const generation = this.generation;
    const value = await compute();
    if (generation === this.generation) {
      if (this.entries.size >= this.max) this.entries.clear();
      this.entries.set(key, { generation, value });
    }
    return value;
  }
}

/** Counts as listings use them: cached where the store can tell when they go stale, computed every time otherwise. */
export interface ListingCounts {
  get(key: string, compute: () => Promise<number>): Promise<number>;
}

/** PostgreSQL: other processes write too, so every count is computed. */
export const uncachedCounts: ListingCounts = { get: (_key, compute) => compute() };
