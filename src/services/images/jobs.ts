import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { createImageJob } from './verify-job.ts';
import { copyImageJob } from './copy-job.ts';
import { COPY_JOB } from './copy.ts';

/** Image jobs: CreateImage (prove the snapshots' chunks are live) and CopyImage (move chunks between regions). */
export function imageJobKinds(services: Services): Record<string, JobKind> {
  return { CreateImage: createImageJob(services), [COPY_JOB]: copyImageJob(services) };
}
