import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';

/** Image jobs (copies between regions). */
export function imageJobKinds(_services: Services): Record<string, JobKind> {
  return {};
}
