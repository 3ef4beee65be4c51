import path from 'node:path';
import fs from 'node:fs';
import { Kysely, Migrator, sql, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider, type SqliteDatabase } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import type { Database } from './schema.ts';
import { CountCache, uncachedCounts, type ListingCounts } from './count-cache.ts';
import { statementName } from './prepared.ts';
import { listenForChanges, sqliteChanges, type ChangeEpoch } from './change-epoch.ts';
import * as m0001 from './migrations/0001_initial.ts';
import * as m0002 from './migrations/0002_compute.ts';
import * as m0003 from './migrations/0003_compute_sources.ts';
import * as m0004 from './migrations/0004_billing.ts';
import * as m0005 from './migrations/0005_openstack.ts';
import * as m0006 from './migrations/0006_job_turns.ts';
import * as m0007 from './migrations/0007_glance_metadefs.ts';
import * as m0008 from './migrations/0008_image_kinds.ts';
import * as m0009 from './migrations/0009_cluster.ts';
import * as m0010 from './migrations/0010_vm_state.ts';
import * as m0011 from './migrations/0011_disk_description.ts';
import * as m0012 from './migrations/0012_glance_locations.ts';
import * as m0013 from './migrations/0013_image_counts.ts';
import * as m0014 from './migrations/0014_job_nodes.ts';
import * as m0015 from './migrations/0015_glance_list_order.ts';
import * as m0016 from './migrations/0016_import_memos.ts';
import * as m0017 from './migrations/0017_access_key_changes.ts';
import * as m0018 from './migrations/0018_glance_stage_digests.ts';
import type { Dialect } from './dialect.ts';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Listing counts, cached until a write to a table they depend on (SQLite), or computed each time (PostgreSQL). */
  counts: ListingCounts;
  /** Changes to `access_keys` on any node (services/access-key-cache.ts). */
  accessKeyChanges: ChangeEpoch;
  /**
   * Refreshes planner statistics: hourly, and after a bulk load (the benches' seeding); on SQLite also at open (the
   * open analyses PostgreSQL's never-analysed tables only). PostgreSQL's autovacuum also analyses changed tables, but
   * only on its next round; ANALYZE samples a bounded number of rows per table.
   */
  optimize(): Promise<void>;
  close(): Promise<void>;
}

/** Numbered migrations, in order. Add new ones at the end; never edit a released one. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_compute': m0002,
  '0003_compute_sources': m0003,
  '0004_billing': m0004,
  '0005_openstack': m0005,
  '0006_job_turns': m0006,
  '0007_glance_metadefs': m0007,
  '0008_image_kinds': m0008,
  '0009_cluster': m0009,
  '0010_vm_state': m0010,
  '0011_disk_description': m0011,
  '0012_glance_locations': m0012,
  '0013_image_counts': m0013,
  '0014_job_nodes': m0014,
  '0015_glance_list_order': m0015,
  '0016_import_memos': m0016,
  '0017_access_key_changes': m0017,
  '0018_glance_stage_digests': m0018,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export interface StoreConfig {
  /** postgres://… for PostgreSQL; otherwise SQLite at `sqlitePath`. */
  databaseUrl?: string;
  sqlitePath?: string;
}

/**
 * Kysely prepares every query anew; preparing costs more than running a typical indexed lookup. Statements are
 * reusable (better-sqlite3 runs each to completion synchronously), so keep the recent ones. Every statement
 * passes through here, so the listing counts see each write too.
 */
function withStatementCache(sqlite: SQLite.Database, observers: { observe(sql: string): void }[], size = 512): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(source: string) {
      for (const o of observers) o.observe(source);
      let stmt = cache.get(source);
      if (stmt) {
        cache.delete(source); // most recently used goes last
      } else {
        stmt = sqlite.prepare(source);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(source, stmt);
      return stmt;
    },
    close: () => sqlite.close(),
  };
}

/**
 * A pg client that sends the statements built by prepared() as named statements: PostgreSQL parses and plans each
 * once per connection (then reuses a generic plan once it costs no more than the custom ones), where an unnamed
 * statement is parsed and planned on every call. A statement whose result includes `*` stays unnamed (prepared.ts), so
 * an additive migration by another node cannot change a prepared statement's result type.
 */
class NamedStatementClient extends pg.Client {
  override query(...args: unknown[]): any {
    const [text, values] = args;
    const name = typeof text === 'string' && Array.isArray(values) && args.length === 2 ? statementName(text) : undefined;
    return name ? super.query({ name, text: text as string, values: values as unknown[] }) : (super.query as (...a: unknown[]) => unknown)(...args);
  }
}

/** Opens the metadata store and brings its schema to the latest migration. */
export async function openStore(cfg: StoreConfig): Promise<Store> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  let counts: ListingCounts = uncachedCounts;
  let accessKeyChanges: ChangeEpoch;
  let closeListener = async () => {};
  if (cfg.databaseUrl && /^postgres(ql)?:\/\//.test(cfg.databaseUrl)) {
    // int8 comes back as a string by default; every bigint we keep (bytes, epoch ms) fits in 2^53.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    // JIT and parallel workers off (docs/decisions.md): a statement whose plan merely estimates a large cost, such as a
    // Glance listing's LIMIT over visibility ORs, was compiled on every call (49 ms for a list of 100 that runs in 3 ms),
    // and a name search started two workers to scan in 2.4x the time. A URL's own `options` parameter takes precedence.
    const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 10, Client: NamedStatementClient, options: '-c jit=off -c max_parallel_workers_per_gather=0' });
    await pool.query('select 1'); // fail fast when the server is not reachable
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
    // The channel migration 0017's trigger notifies.
    const listener = await listenForChanges(cfg.databaseUrl, 'imagehouse_access_keys');
    accessKeyChanges = listener;
    closeListener = () => listener.close();
  } else {
    const file = cfg.sqlitePath ?? ':memory:';
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    // The listing indexes of a 100k-image store do not fit SQLite's default 2 MiB page cache.
    sqlite.pragma('cache_size = -65536');
    sqlite.pragma('mmap_size = 268435456');
    const cache = new CountCache();
    const keyChanges = sqliteChanges(sqlite, new Set(['access_keys']));
    accessKeyChanges = keyChanges;
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, [cache, keyChanges]) }) });
    counts = cache;
    dialect = 'sqlite';
  }
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await closeListener();
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  const optimize = async () => {
    // 0x10002: analyse every table whose statistics are missing or stale (cheap when they are fresh).
    if (dialect === 'sqlite') await sql`PRAGMA optimize=0x10002`.execute(db);
    else await sql`analyze`.execute(db);
  };
  // Every open (each node's start, each admin command): on PostgreSQL only the tables holding rows that were never
  // analysed (a restored database), since a whole ANALYZE takes 0.4-0.5 s at 100k images.
  if (dialect === 'sqlite') await optimize();
  else await analyseUnanalysed(db);
  return { db, dialect, counts, accessKeyChanges, optimize, close: async () => { await closeListener(); await db.destroy(); } };
}

/** ANALYZE the tables of the current schema that hold rows and have never been analysed (PostgreSQL). */
async function analyseUnanalysed(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ name: string }>`select relname as name from pg_stat_user_tables
    where schemaname = current_schema() and n_live_tup > 0 and last_analyze is null and last_autoanalyze is null`.execute(db);
  if (rows.length) await sql`analyze ${sql.join(rows.map((r) => sql.table(r.name)))}`.execute(db);
}
