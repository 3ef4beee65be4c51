/**
 * Cooperative scheduling for long loops on the request path. On SQLite every query runs synchronously, so
 * a loop of awaits never lets the event loop serve anyone else; calling the returned function in the loop
 * hands the event loop back (one macrotask turn) whenever `sliceMs` of work has passed since the last time.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export function cooperative(sliceMs = 10): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await nextTurn();
    since = performance.now();
  };
}
