/**
 * Which bytes of the file guest data already uses. No refcount-consistent image maps one host cluster, block or
 * grain at two guest offsets (qcow2 snapshots aside, whose tables we never read), and a file that does can make
 * an import do work far beyond its size (an 18 MiB qcow2 read as 2 TiB of data). So each reader claims the host
 * bytes of every allocated unit and refuses the second claim. Memory is bounded by the file's size.
 */
import { fail } from './errors.ts';
import { checkTableBytes, type Limits } from './limits.ts';

/**
 * One bit per aligned unit of the file (a qcow2 cluster, a VHDX MiB), for formats whose data units are aligned:
 * tables are marked first, then every data unit is claimed once.
 */
export class UnitMap {
  private readonly tables: Uint8Array;
  private readonly data: Uint8Array;

  constructor(fileSize: number, private readonly unit: number, limits: Limits, what: string) {
    const bytes = Math.ceil(Math.ceil(fileSize / unit) / 8);
    checkTableBytes(2 * bytes, limits, `${what} map of the file`);
    this.tables = new Uint8Array(bytes);
    this.data = new Uint8Array(bytes);
  }

  /** Marks the units of a table already checked to lie in the file. */
  markTable(start: number, length: number): void {
    for (let u = Math.floor(start / this.unit); u * this.unit < start + length; u++) this.tables[u >> 3] |= 1 << (u & 7);
  }

  /** Claims the units under `length` bytes of guest data at `start` (in the file); a second claim fails. */
  claimData(start: number, length: number, what: string): void {
    for (let u = Math.floor(start / this.unit); u * this.unit < start + length; u++) {
      const bit = 1 << (u & 7);
      if (this.tables[u >> 3] & bit) fail('table-overlap', `${what} at offset ${start} overlaps a table of the file`);
      if (this.data[u >> 3] & bit) fail('shared-cluster', `${what} at offset ${start} is also mapped at another guest offset`);
      this.data[u >> 3] |= bit;
    }
  }

  /** Fails when the unit holding `offset` is a table or claimed data (for data that packs several into one unit). */
  checkFree(offset: number, what: string): void {
    const u = Math.floor(offset / this.unit);
    const bit = 1 << (u & 7);
    if (this.tables[u >> 3] & bit) fail('table-overlap', `${what} at offset ${offset} lies in a table of the file`);
    if (this.data[u >> 3] & bit) fail('shared-cluster', `${what} at offset ${offset} lies in a data cluster mapped elsewhere`);
  }
}

/**
 * Start offsets of host ranges at arbitrary positions, collected while scanning and checked for sharing once
 * sorted. VHD and VMDK store u32 sector numbers (a Uint32Array, 4 bytes each); byte offsets need a Float64Array.
 */
export class HostStarts {
  private starts: Uint32Array | Float64Array;
  private count = 0;

  constructor(private readonly make: (n: number) => Uint32Array | Float64Array, private readonly limits: Limits, private readonly what: string) {
    this.starts = make(256);
  }

  get size(): number {
    return this.count;
  }

  add(start: number): void {
    if (this.count === this.starts.length) {
      checkTableBytes(this.starts.byteLength * 2, this.limits, `${this.what} index`);
      const grown = this.make(this.starts.length * 2);
      grown.set(this.starts);
      this.starts = grown;
    }
    this.starts[this.count++] = start;
  }

  /**
   * Sorts the starts and fails when two ranges share a unit; each range covers `lengthOf(start)` units from its
   * start, and a unit is `unitBytes` bytes (for messages). Returns the sorted starts.
   */
  checkDisjoint(lengthOf: (start: number) => number, unitBytes: number): Uint32Array | Float64Array {
    const sorted = this.starts.subarray(0, this.count).sort();
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i] < sorted[i - 1] + lengthOf(sorted[i - 1])) {
        fail('shared-cluster', `two ${this.what}s share the bytes at offset ${sorted[i] * unitBytes}`);
      }
    }
    return sorted;
  }
}

/** True when a range in `sorted` (ascending starts, ranges of at most `maxLength`) meets [start, start + length). */
export function meetsAny(sorted: ArrayLike<number>, maxLength: number, start: number, length: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= start - maxLength) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] < start + length;
}
