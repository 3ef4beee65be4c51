/**
 * Metadata-store backends for contract tests. SQLite always runs; PostgreSQL runs when
 * IMAGEHOUSE_TEST_DATABASE_URL is set (.ci/run sets it) and then fails loudly if the server is unreachable.
 * Each opened store gets its own fresh database, so test files never share state.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db.ts';
import { requires } from '../support/requires.ts';

export interface TestStore extends Store {
  /** The URL (postgres) or ':memory:' (sqlite) the store was opened with. */
  url: string;
  /** Closes the store and drops its database. */
  dispose(): Promise<void>;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** Reason to skip, or undefined when the backend is available. */
  skip?: string;
  open(): Promise<TestStore>;
}

export function postgresBaseUrl(): string | undefined {
  return process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined;
}

/** Creates a uniquely named database on the test server and returns its URL and a dropper. */
export async function freshPostgresDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = 'ih_' + crypto.randomBytes(6).toString('hex');
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = '/' + name;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        // pg.Pool#end() resolves before the server has ended its sessions; a forced drop would then kill
        // them mid-goodbye, which surfaces as an uncaught "terminating connection" error in the test.
        for (let i = 0; i < 500; i++) {
          const { rows } = await c.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

export function storeBackends(): StoreBackend[] {
  const base = postgresBaseUrl();
  return [
    {
      name: 'sqlite',
      async open() {
        const store = await openStore({ sqlitePath: ':memory:' });
        return { ...store, url: ':memory:', dispose: () => store.close() };
      },
    },
    {
      name: 'postgres',
      skip: requires('postgres'),
      async open() {
        const { url, drop } = await freshPostgresDatabase(base!);
        const store = await openStore({ databaseUrl: url });
        return {
          ...store,
          url,
          async dispose() {
            await store.close();
            await drop();
          },
        };
      },
    },
  ];
}
