import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { tempDir } from '../buckets/store.ts';
import { importJobKind } from './import-job.ts';
import { exportJobKind } from './export-job.ts';
import { EXPORT_KIND, IMPORT_KIND } from './kinds.ts';
import { removeTempFiles } from './temp-files.ts';

/** Temp files untouched for this long were left by a process that died mid-transfer. */
const STALE_TEMP_MS = 3600_000;

/** Transfer jobs (ImportImage, ExportImage). Also clears temp files that crashed transfers left behind. */
export function transferJobKinds(services: Services): Record<string, JobKind> {
  void removeTempFiles(tempDir(services), { olderThan: services.clock.now() - STALE_TEMP_MS }).catch(() => {});
  return { [IMPORT_KIND]: importJobKind(services), [EXPORT_KIND]: exportJobKind(services) };
}
