import fs from 'node:fs/promises';
import path from 'node:path';
import type { Services } from '../context.ts';

/** Removes files in `dir` last modified before `olderThan` and/or whose names start with `prefix`, except those `keep` names (by path). */
export async function removeTempFiles(dir: string, which: { olderThan?: number; prefix?: string; keep?: (file: string) => boolean }): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (which.prefix !== undefined && !name.startsWith(which.prefix)) continue;
    const file = path.join(dir, name);
    if (which.keep?.(file)) continue;
    const st = await fs.lstat(file).catch(() => undefined);
    if (st?.isFile() && (which.olderThan === undefined || st.mtimeMs < which.olderThan)) {
      await fs.rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}

/** Temp files untouched for this long were left by a process that died mid-transfer. */
const STALE_TEMP_MS = 3600_000;

/** Removes what transfers that crashed left in the temp folder; the app runs it once at start. */
export function removeStaleTempFiles(services: Pick<Services, 'dirs' | 'clock'>): Promise<number> {
  return removeTempFiles(services.dirs.temp, { olderThan: services.clock.now() - STALE_TEMP_MS });
}
