/**
 * Per-account limit on concurrent heavy requests (issue 11): one account launching huge fleets, writing many
 * disks at once or opening many uploads and downloads cannot take the whole service (each transfer holds data
 * plane buffers, 16–32 MiB, and disk bandwidth). Beyond the limit the request is refused at once with
 * `Throttling.User` (the SDK raises it as a ThrottlingError and the caller retries), never queued.
 */
import { apiError } from '../domain/errors.ts';

export class AccountWork {
  private readonly running = new Map<string, number>();

  constructor(readonly maxPerAccount: number) {
    if (!Number.isInteger(maxPerAccount) || maxPerAccount < 1) throw new RangeError(`bad per-account concurrency ${maxPerAccount}`);
  }

  /** Runs `fn` as one of the account's concurrent heavy requests, or throws Throttling.User. */
  async run<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
    const release = this.hold(accountId);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Takes one of the account's slots for work that outlives a call (a download's body), or throws Throttling.User.
   * The returned function gives it back; calling it again does nothing.
   */
  hold(accountId: string): () => void {
    const n = this.running.get(accountId) ?? 0;
    if (n >= this.maxPerAccount) throw apiError('Throttling.User');
    this.running.set(accountId, n + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.running.get(accountId) ?? 1) - 1;
      if (left > 0) this.running.set(accountId, left);
      else this.running.delete(accountId);
    };
  }

  /** Slots the account holds now. */
  inFlight(accountId: string): number {
    return this.running.get(accountId) ?? 0;
  }
}
