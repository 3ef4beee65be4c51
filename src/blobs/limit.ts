/** A counting semaphore: at most `n` tasks run at once, the rest wait in FIFO order. */
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  acquire(): Promise<void>;
  release(): void;
  readonly active: number;
}

export function createLimiter(n: number): Limiter {
  if (!(n >= 1)) throw new RangeError(`limit must be >= 1, got ${n}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (active < n) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else active--;
  };
  return {
    acquire,
    release,
    get active() {
      return active;
    },
    async run(task) {
      await acquire();
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
