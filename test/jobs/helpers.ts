import pg from 'pg';
import { postgresBaseUrl, type TestStore } from '../support/stores.ts';

/** Polls `check` until it returns something truthy (a hang guard of 30 s, not a timing assertion). */
export async function waitFor<T>(check: () => Promise<T | undefined | false | null>, intervalMs = 10, giveUpMs = 30_000): Promise<T> {
  const deadline = Date.now() + giveUpMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition never became true');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves with the signal's reason once it is aborted. */
export function untilAborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/**
 * Closes a test store and waits until the server has really ended its sessions before dropping the
 * database. pg.Pool#end() resolves before its connections are gone, and the drop's `with (force)` then
 * kills them mid-goodbye, which surfaces as an uncaught "terminating connection" error.
 */
export async function disposeStore(store: TestStore): Promise<void> {
  await store.close();
  const base = postgresBaseUrl();
  if (base && store.url.startsWith('postgres')) {
    const name = new URL(store.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    try {
      await waitFor(async () => {
        const { rows } = await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
        return rows[0].n === 0;
      }, 10, 5_000).catch(() => undefined);
    } finally {
      await admin.end();
    }
  }
  await store.dispose();
}
