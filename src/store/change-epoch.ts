/**
 * Whether rows a node read may have changed since, for the caches in front of them (the AccessKeys by ID): a cache
 * keeps what it read under the epoch of the moment it began reading, and uses it only while the epoch is the same.
 * - PostgreSQL: a trigger notifies a channel when a change commits (migration 0017), and a connection of this node
 *   listens; each notification moves the epoch on. While that connection is down (at start, after a loss, until it
 *   listens again) there is no epoch: a change could be missed, so nothing may be served from memory.
 * - SQLite: one process owns the file. `PRAGMA data_version` changes when another connection (an administrative
 *   command) commits, and this node's own writes to the watched tables move the epoch as they are prepared.
 */
import pg from 'pg';
import type SQLite from 'better-sqlite3';
import { writtenTable } from './count-cache.ts';

export interface ChangeEpoch {
  /** Moves on with every change to the watched rows; undefined while changes cannot be seen. */
  epoch(): number | undefined;
}

/** After a lost listening connection, the next attempt waits this long. */
const RELISTEN_MS = 1_000;

/** Listens on `channel` with a connection of its own; the epoch exists while it listens. */
export async function listenForChanges(databaseUrl: string, channel: string): Promise<ChangeEpoch & { close(): Promise<void> }> {
  let generation = 0;
  let listening = false;
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  async function listen(): Promise<void> {
    const c = new pg.Client({ connectionString: databaseUrl, keepAlive: true });
    client = c;
    const lost = () => {
      if (client !== c) return;
      client = undefined;
      listening = false;
      generation++;
      c.end().catch(() => {});
      if (!closed) retry = setTimeout(() => void listen(), RELISTEN_MS).unref();
    };
    c.on('error', lost);
    c.on('end', lost);
    c.on('notification', () => { generation++; });
    try {
      await c.connect();
      await c.query(`listen ${channel}`);
      // Anything read before this moment was read while a change could go unseen.
      if (client === c) { generation++; listening = true; }
    } catch {
      lost();
    }
  }

  await listen();
  return {
    epoch: () => (listening ? generation : undefined),
    async close() {
      closed = true;
      clearTimeout(retry);
      listening = false;
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

/** SQLite: other connections' commits (data_version) and this connection's writes to `tables` (seen by `observe`). */
export function sqliteChanges(sqlite: SQLite.Database, tables: ReadonlySet<string>): ChangeEpoch & { observe(sql: string): void } {
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  let seen = dataVersion.get();
  let generation = 0;
  return {
    epoch() {
      const v = dataVersion.get();
      if (v !== seen) { seen = v; generation++; }
      return generation;
    },
    observe(sql) {
      const table = writtenTable(sql);
      if (table && tables.has(table)) generation++;
    },
  };
}
