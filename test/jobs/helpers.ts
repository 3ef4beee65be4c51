import type { TestStore } from '../support/stores.ts';

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

/** Closes a test store and drops its database (stores.ts waits for the server to end the sessions first). */
export async function disposeStore(store: TestStore): Promise<void> {
  await store.dispose();
}
