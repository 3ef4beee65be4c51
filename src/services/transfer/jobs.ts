import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';

/** Transfer jobs (ImportImage, ExportImage). */
export function transferJobKinds(_services: Services): Record<string, JobKind> {
  return {};
}
