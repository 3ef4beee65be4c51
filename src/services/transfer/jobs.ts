import fs from 'node:fs/promises';
import path from 'node:path';
import type { Services } from '../context.ts';
import type { JobKind } from '../job-kinds.ts';
import { tempDir } from '../buckets/store.ts';
import { importJobKind } from './import-job.ts';
import { exportJobKind } from './export-job.ts';
import { EXPORT_KIND, IMPORT_KIND } from './kinds.ts';

/** Temp files untouched for this long were left by a process that died mid-transfer. */
const STALE_TEMP_MS = 3600_000;

/** Transfer jobs (ImportImage, ExportImage). Also clears temp files that crashed transfers left behind. */
export function transferJobKinds(services: Services): Record<string, JobKind> {
  void sweepStaleTempFiles(tempDir(services), services.clock.now() - STALE_TEMP_MS).catch(() => {});
  return { [IMPORT_KIND]: importJobKind(services), [EXPORT_KIND]: exportJobKind(services) };
}

export async function sweepStaleTempFiles(dir: string, olderThan: number): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const st = await fs.lstat(file).catch(() => undefined);
    if (st?.isFile() && st.mtimeMs < olderThan) {
      await fs.rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}
