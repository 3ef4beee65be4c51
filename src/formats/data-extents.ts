/** Where a file holds data: SEEK_DATA/SEEK_HOLE, through xfsprogs' `xfs_io` (Node has no lseek). */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * The data extents of an open file with holes (fewer blocks allocated than its size); undefined for a file without
 * holes, so a dense file costs no `xfs_io`. Seeks the file opened, even if its path now names another.
 */
export async function holeyFileExtents(fh: FileHandle): Promise<[number, number][] | undefined> {
  const st = await fh.stat();
  if (st.blocks * 512 >= st.size) return undefined;
  return dataExtents(`/proc/${process.pid}/fd/${fh.fd}`);
}

/** Whether any of `extents` (ascending, as above) overlaps [from, to). */
export function overlapsData(extents: readonly [number, number][], from: number, to: number): boolean {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (extents[mid][1] <= from) lo = mid + 1;
    else hi = mid;
  }
  return lo < extents.length && extents[lo][0] < to;
}

/**
 * The data extents of `file` as [offset, end) pairs in ascending order; undefined when `xfs_io` is not available
 * (the caller then reads the whole file). It only seeks: the file's content is never parsed.
 */
export async function dataExtents(file: string): Promise<[number, number][] | undefined> {
  let out: string;
  try {
    out = (await promisify(execFile)('xfs_io', ['-r', '-c', 'seek -a -r 0', file])).stdout;
  } catch {
    return undefined;
  }
  const size = (await fs.promises.stat(file)).size;
  const marks = [...out.matchAll(/^(DATA|HOLE)\t(\d+|EOF)$/gm)].map((m) => ({ data: m[1] === 'DATA', at: m[2] === 'EOF' ? size : Number(m[2]) }));
  if (marks.length === 0) return undefined;
  const extents: [number, number][] = [];
  marks.forEach((m, i) => {
    const end = marks[i + 1]?.at ?? size;
    if (m.data && end > m.at) extents.push([m.at, end]);
  });
  return extents;
}
