/**
 * Group commit for statements many requests run at once: calls that arrive while a batch is in flight (or in the same
 * turn of the event loop) are answered together by the next one. On PostgreSQL a statement's round trip, its
 * backend's wake-up and the driver's work cost more than one more row in it (a lookup by ID: 62 µs of the backend's
 * CPU alone, 17 µs each ten to a statement), so batching changes the cost, never the answer: `run` still decides
 * every item in the database.
 */
interface Waiter<T, R> { item: T; resolve(result: R): void; reject(err: unknown): void }

/** `run` answers its items in order; each caller gets its own item's answer, or the batch's error. */
export function grouped<T, R>(run: (items: T[]) => Promise<R[]>): (item: T) => Promise<R> {
  let queue: Waiter<T, R>[] = [];
  let running = false;

  async function drain(): Promise<void> {
    while (queue.length) {
      const batch = queue;
      queue = [];
      try {
        const results = await run(batch.map((w) => w.item));
        // Each waiter goes on in its own turn of the event loop: on SQLite a request's queries run synchronously,
        // so resolving the batch at once would run every request of the batch to its end inside this one callback.
        batch.forEach((w, k) => setImmediate(w.resolve, results[k]));
      } catch (err) {
        for (const w of batch) setImmediate(w.reject, err);
      }
    }
    running = false;
  }

  return (item) => new Promise<R>((resolve, reject) => {
    queue.push({ item, resolve, reject });
    // The first call of a batch waits one turn, so the others that arrived with it join.
    if (!running) { running = true; setImmediate(() => void drain()); }
  });
}
