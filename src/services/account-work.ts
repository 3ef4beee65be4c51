/**
 * Per-account limit on concurrent heavy requests (issue 11): one account launching huge fleets or writing
 * many disks at once cannot take the whole service. Beyond the limit the request is refused at once with
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
    const n = this.running.get(accountId) ?? 0;
    if (n >= this.maxPerAccount) throw apiError('Throttling.User');
    this.running.set(accountId, n + 1);
    try {
      return await fn();
    } finally {
      const left = (this.running.get(accountId) ?? 1) - 1;
      if (left > 0) this.running.set(accountId, left);
      else this.running.delete(accountId);
    }
  }
}
