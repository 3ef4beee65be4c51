/** A kind of durable job: its handler, and what happens to its resource rows when it ends. */
import type { JobHandler, JobTrxHook } from '../jobs/index.ts';

export interface JobKind {
  handler: JobHandler;
  /** Runs in the transaction that moves the job to succeeded / failed / cancelled. */
  onFinished?: JobTrxHook;
}
