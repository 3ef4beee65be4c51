export {
  JobQueue, newTaskId, parseJson, ATTEMPTS_EXHAUSTED, NODE_STOPPED,
  type FailOptions, type JobRow, type JobState, type JobTrxHook, type NewJob, type QueueOptions, type RenewOutcome,
} from './queue.ts';
export type { JobListFilter } from './list-filter.ts';
export {
  startWorker, defaultRetryDelayMs, JobAbortedError,
  type JobContext, type JobHandler, type Worker, type WorkerOptions,
} from './worker.ts';
export { activeJobKind } from './active.ts';
export { loadNodeId } from './node-id.ts';
