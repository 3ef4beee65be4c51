/**
 * Progress of a long transfer, written where the API shows it (the task's TaskProcess, the image's
 * Progress) at most a few times a second and only when the whole percentage changes. Writes are chained,
 * never concurrent; `flush` waits for the last one.
 */
import type { JobContext } from '../../jobs/index.ts';

const MIN_INTERVAL_MS = 300;

export interface ProgressSink {
  /** Extra rows to update with the new percentages (the image, its disk). */
  write(pct: number, detail: number): Promise<void>;
}

export class ProgressReporter {
  /** 0 is what every job starts at: the first write is the first whole percent, as soon as it is reached. */
  private lastPct = 0;
  private lastAt = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: Pick<JobContext, 'progress'>, private readonly sink?: ProgressSink, private readonly onError: (e: unknown) => void = () => {}) {}

  /**
   * `done` of `total` units overall; `detail` is a second percentage (e.g. of the current disk).
   * Stays below 100 until the job ends: the end itself writes 100.
   */
  report(done: number, total: number, detail = 0): void {
    const pct = total > 0 ? Math.min(99, Math.floor((100 * done) / total)) : 0;
    const now = Date.now();
    if (pct === this.lastPct || now - this.lastAt < MIN_INTERVAL_MS) return;
    this.lastPct = pct;
    this.lastAt = now;
    this.chain = this.chain
      .then(() => Promise.all([this.ctx.progress(pct), this.sink?.write(pct, Math.min(100, Math.floor(detail)))]))
      .then(() => {}, this.onError);
  }

  flush(): Promise<void> {
    return this.chain;
  }
}
