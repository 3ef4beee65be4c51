import fs from 'node:fs/promises';
import path from 'node:path';

/** Removes files in `dir` last modified before `olderThan` and/or whose names start with `prefix`. */
export async function removeTempFiles(dir: string, which: { olderThan?: number; prefix?: string }): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (which.prefix !== undefined && !name.startsWith(which.prefix)) continue;
    const file = path.join(dir, name);
    const st = await fs.lstat(file).catch(() => undefined);
    if (st?.isFile() && (which.olderThan === undefined || st.mtimeMs < which.olderThan)) {
      await fs.rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}
