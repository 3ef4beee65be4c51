/**
 * qcow2 mapping: guest cluster → L1 entry → L2 entry → host cluster (or compressed bytes, or zeros).
 * The L1 table (≤ 32 MiB) is held; L2 tables are read one at a time, so memory stays bounded for any disk size.
 * The scan refuses a host cluster mapped twice (or mapped over a table): only snapshots share clusters, and
 * their tables are never read.
 */
import { CHUNK_SIZE } from '../../domain/disk.ts';
import type { ByteSource } from '../types.ts';
import type { Features, OpenedImage } from '../image.ts';
import type { Piece } from '../pieces.ts';
import { checkClear, checkDistinct, checkInFile, u64be, type Region } from '../bytes.ts';
import { fail } from '../errors.ts';
import { checkTableBytes, MAX_INFLATE_RATIO, MAX_L1_BYTES, type Limits } from '../limits.ts';
import { HostStarts, UnitMap } from '../host-claims.ts';
import { readExact } from '../source.ts';
import { readTableRun, TableCache } from '../table-cache.ts';
import { parseQcow2Header, type Qcow2Header } from './header.ts';

const TWO32 = 0x1_0000_0000;

/** What the scan has seen of the file: tables and data clusters, and where compressed clusters start. */
interface Claims {
  clusters: UnitMap;
  compressed: HostStarts;
}
const L2_CACHE_BYTES = 8 * 1024 * 1024;
const MAX_SNAPSHOT_TABLE_BYTES = 64 * 1024 * 1024;
const MAX_SNAPSHOT_EXTRA = 1024;

/** Host offset in bits 9–55 of an L1 or standard L2 entry. */
function offsetField(t: Buffer, at: number): number {
  return (t.readUInt32BE(at) & 0x00ffffff) * TWO32 + ((t.readUInt32BE(at + 4) & 0xfffffe00) >>> 0);
}

export async function openQcow2(src: ByteSource, limits: Limits): Promise<OpenedImage> {
  const h = await parseQcow2Header(src, limits);
  const l1 = await readExact(src, h.l1Offset, h.l1Size * 8, 'qcow2 L1 table');
  return new Qcow2Image(src, h, l1, limits);
}

class Qcow2Image implements OpenedImage {
  readonly virtualSize: number;
  readonly features: Features;
  private readonly cs: number;
  private readonly clusters: number;
  private readonly cache = new TableCache<number>(L2_CACHE_BYTES);

  constructor(private readonly src: ByteSource, private readonly h: Qcow2Header, private readonly l1: Buffer, private readonly limits: Limits) {
    this.virtualSize = h.virtualSize;
    this.cs = h.clusterSize;
    this.clusters = Math.ceil(h.virtualSize / h.clusterSize);
    this.features = {
      version: h.version, clusterSize: h.clusterSize, extendedL2: h.extendedL2, dirty: h.dirty,
      snapshots: h.snapshotCount, compressed: false,
    };
  }

  /** Offset of the L2 table for L1 index `i` (0 = unallocated), checked before use. */
  private l2Offset(i: number): number {
    const off = offsetField(this.l1, i * 8);
    if (off === 0) return 0;
    if (off % this.cs !== 0) fail('malformed', `qcow2 L2 table offset ${off} is not cluster aligned`);
    const region = { name: 'qcow2 L2 table', start: off, length: this.cs };
    checkInFile(this.src.size, region);
    checkClear(region, this.h.regions);
    return off;
  }

  async scan(): Promise<number> {
    const l1Used = Math.ceil(this.clusters / this.h.l2Entries);
    const refcountTable = await readExact(this.src, this.h.refcountTableOffset, this.h.refcountTableBytes, 'qcow2 refcount table');
    const fixed = [...this.h.regions];
    if (this.h.snapshotCount > 0) fixed.push(await this.walkSnapshots(fixed));

    // Every one-cluster table (L2 tables, refcount blocks) must be in the file, clear of the fixed tables, and unique.
    const starts: number[] = [];
    for (let i = 0; i < l1Used; i++) {
      const off = this.l2Offset(i);
      if (off !== 0) {
        checkClear({ name: 'qcow2 L2 table', start: off, length: this.cs }, fixed);
        starts.push(off);
      }
    }
    for (let at = 0; at < refcountTable.length; at += 8) {
      const off = u64be(refcountTable, at) - (refcountTable.readUInt32BE(at + 4) & 0x1ff);
      if (off === 0) continue;
      const region = { name: 'qcow2 refcount block', start: off, length: this.cs };
      checkInFile(this.src.size, region);
      if (off % this.cs !== 0) fail('malformed', `qcow2 refcount block offset ${off} is not cluster aligned`);
      checkClear(region, fixed);
      starts.push(off);
    }
    checkTableBytes(starts.length * 8, this.limits, 'qcow2 table index');
    checkDistinct(Float64Array.from(starts), this.cs, 'qcow2 L2 table or refcount block');

    const claims: Claims = {
      clusters: new UnitMap(this.src.size, this.cs, this.limits, 'qcow2 cluster'),
      compressed: new HostStarts((n) => new Float64Array(n), this.limits, 'qcow2 compressed cluster'),
    };
    for (const r of fixed) claims.clusters.markTable(r.start, r.length);
    for (const off of starts) claims.clusters.markTable(off, this.cs);
    let allocated = 0;
    for (let i = 0; i < l1Used;) {
      if (this.l2Offset(i) === 0) {
        i++;
        continue;
      }
      for (const table of await this.readL2Run(i, l1Used)) {
        const first = i * this.h.l2Entries;
        const last = Math.min(this.clusters, first + this.h.l2Entries);
        for (let c = first; c < last; c++) allocated += this.decode(table, c - first, c, 0, null, claims);
        i++;
      }
    }
    // Compressed clusters pack several to a host cluster, so they are checked by their first byte instead.
    for (const start of claims.compressed.checkDisjoint(() => 1, 1)) claims.clusters.checkFree(start, 'qcow2 compressed cluster');
    return allocated;
  }

  /** L2 table `i` and the ones stored right after it (up to L1 index `to`). */
  private readL2Run(i: number, to: number): Promise<Buffer[]> {
    return readTableRun(this.src, (k) => this.l2Offset(k), i, to, this.cs, 'qcow2 L2 table');
  }

  private async loadL2(i: number): Promise<Buffer> {
    const run = await this.readL2Run(i, Math.ceil(this.clusters / this.h.l2Entries));
    run.forEach((t, k) => k > 0 && this.cache.put(i + k, t));
    return run[0];
  }

  /** Walks the snapshot table (entries have their own L1 tables, which we bounds-check but never read). */
  private async walkSnapshots(fixed: Region[]): Promise<Region> {
    const start = this.h.snapshotsOffset;
    let off = start;
    for (let n = 0; n < this.h.snapshotCount; n++) {
      const e = await readExact(this.src, off, 40, 'qcow2 snapshot table');
      const l1 = { name: 'qcow2 snapshot L1 table', start: u64be(e, 0), length: e.readUInt32BE(8) * 8 };
      checkTableBytes(l1.length, this.limits, 'qcow2 snapshot L1 table', MAX_L1_BYTES);
      checkInFile(this.src.size, l1);
      if (l1.start % this.cs !== 0) fail('malformed', `qcow2 snapshot L1 offset ${l1.start} is not cluster aligned`);
      const extra = e.readUInt32BE(36);
      if (extra > MAX_SNAPSHOT_EXTRA) fail('malformed', `qcow2 snapshot extra data of ${extra} bytes`);
      off += 40 + extra + e.readUInt16BE(12) + e.readUInt16BE(14);
      off = Math.ceil(off / 8) * 8;
      if (off - start > MAX_SNAPSHOT_TABLE_BYTES) fail('absurd-size', `qcow2 snapshot table larger than ${MAX_SNAPSHOT_TABLE_BYTES} bytes`);
    }
    const region = { name: 'qcow2 snapshot table', start, length: off - start };
    checkInFile(this.src.size, region);
    checkClear(region, fixed);
    return region;
  }

  async plan(index: number): Promise<Piece[] | null> {
    const { cs, h } = this;
    const base = index * CHUNK_SIZE;
    const end = Math.min(base + CHUNK_SIZE, this.virtualSize);
    const pieces: Piece[] = [];
    let c = base / cs;
    const cEnd = Math.ceil(end / cs);
    while (c < cEnd) {
      const l1i = Math.floor(c / h.l2Entries);
      const first = l1i * h.l2Entries;
      const stop = Math.min(cEnd, first + h.l2Entries);
      const off = this.l2Offset(l1i);
      if (off === 0) {
        c = stop;
        continue;
      }
      const table = await this.cache.get(l1i, () => this.loadL2(l1i));
      for (; c < stop; c++) this.decode(table, c - first, c, base, pieces);
    }
    return pieces.length > 0 ? pieces : null;
  }

  /**
   * Decodes L2 entry `k` (guest cluster `c`), validating it; appends its pieces (positioned relative to the chunk
   * at guest offset `base`) when `out` is given, and claims its host bytes when `claims` is. Returns the guest
   * bytes it holds.
   */
  private decode(t: Buffer, k: number, c: number, base: number, out: Piece[] | null, claims?: Claims): number {
    const { cs, src } = this;
    const guest = c * cs;
    const length = Math.min(cs, this.virtualSize - guest);
    const at = k * (this.h.extendedL2 ? 16 : 8);
    const hi = t.readUInt32BE(at);
    if (hi & 0x40000000) {
      // Compressed: bits 0..x-1 host byte offset, bits x..61 extra 512-byte sectors, x = 62 - (cluster_bits - 8).
      const shift = 62 - (this.h.clusterBits - 8) - 32;
      const host = (hi & ((1 << shift) - 1)) * TWO32 + t.readUInt32BE(at + 4);
      const sectors = (hi & 0x3fffffff) >>> shift;
      if (host >= src.size) fail('truncated', `qcow2 compressed cluster at offset ${host} lies beyond the end of the file`);
      this.features.compressed = true;
      if (claims) {
        claims.compressed.add(host);
        if (claims.compressed.size * cs > src.size * MAX_INFLATE_RATIO) {
          fail('absurd-size', `the qcow2 file maps more compressed clusters than ${src.size} bytes can hold`);
        }
      }
      out?.push({ kind: 'compressed', codec: 'deflate-raw', at: guest - base, length, host, window: (sectors + 1) * 512 - (host % 512), unit: cs, skip: 0 });
      return length;
    }
    const host = offsetField(t, at);
    if (this.h.extendedL2) return this.decodeSubclusters(t, at, host, guest, length, base, out, claims);
    if (t.readUInt32BE(at + 4) & 1) return 0; // reads as zero
    if (host === 0) return 0;
    this.checkDataCluster(host, length);
    claims?.clusters.claimData(host, length, 'qcow2 data cluster');
    out?.push({ kind: 'data', at: guest - base, length, host });
    return length;
  }

  /** Extended L2: 32 subclusters, bitmap word: bits 0–31 allocated, bits 32–63 reads-as-zero. */
  private decodeSubclusters(
    t: Buffer, at: number, host: number, guest: number, length: number, base: number, out: Piece[] | null, claims?: Claims,
  ): number {
    const zero = t.readUInt32BE(at + 8);
    const alloc = t.readUInt32BE(at + 12);
    if (alloc & zero) fail('malformed', `qcow2 subclusters of guest offset ${guest} are both allocated and zero`);
    if (alloc === 0) return 0;
    if (host === 0) fail('malformed', `qcow2 subclusters of guest offset ${guest} are allocated without a host cluster`);
    const sc = this.cs / 32;
    // Only allocated subclusters need to exist: the file may end inside the cluster after the last one.
    const used = Math.min(length, (32 - Math.clz32(alloc)) * sc);
    this.checkDataCluster(host, used);
    claims?.clusters.claimData(host, used, 'qcow2 data cluster');
    let bytes = 0;
    for (let j = 0; j < 32 && j * sc < length; j++) {
      if (!((alloc >>> j) & 1)) continue;
      const n = Math.min(sc, length - j * sc);
      bytes += n;
      out?.push({ kind: 'data', at: guest + j * sc - base, length: n, host: host + j * sc });
    }
    return bytes;
  }

  private checkDataCluster(host: number, length: number): void {
    if (host % this.cs !== 0) fail('malformed', `qcow2 data cluster offset ${host} is not cluster aligned`);
    if (host + length > this.src.size) fail('truncated', `qcow2 data cluster at offset ${host} lies beyond the end of the file`);
  }
}
