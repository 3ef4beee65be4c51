import type { TestStore } from '../support/stores.ts';

/** Resolves with the signal's reason once it is aborted. */
export function untilAborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/** Closes a test store and drops its database (stores.ts waits for the server to end the sessions first). */
export async function disposeStore(store: TestStore): Promise<void> {
  await store.dispose();
}
