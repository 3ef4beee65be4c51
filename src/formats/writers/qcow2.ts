/**
 * qcow2 v3 export, 64 KiB clusters, 16-bit refcounts. Layout (all computed from the zero masks):
 * header cluster, refcount table, refcount blocks, L1, L2 tables (only those covering data),
 * then one data cluster per non-zero 64 KiB block in guest order. Every cluster has refcount 1,
 * and L1/L2 entries carry the COPIED flag, so `qemu-img check` finds no leaks or corruption.
 */
import { CHUNK_SIZE, ZERO_BLOCK_SIZE, chunkLength, type VirtualDisk } from '../../domain/disk.ts';
import { type BlockRun, nonZeroRuns, readChunks, requireWholeSectors, runBlockCount, runBytes, zeros } from './disk-chunks.ts';
import type { ExportStream } from './types.ts';

const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
const CHUNKS_PER_L2 = (L2_ENTRIES * CLUSTER) / CHUNK_SIZE;
const BLOCKS_PER_CHUNK = CHUNK_SIZE / CLUSTER;
const REFCOUNT_ORDER = 4;
const REFCOUNTS_PER_BLOCK = CLUSTER / 2;
const COPIED_HI = 0x80000000; // bit 63 of an L1/L2 entry, as the high u32
const HEADER_LENGTH = 104;

if (ZERO_BLOCK_SIZE !== CLUSTER) throw new Error('qcow2 writer assumes one cluster per zero-mask block');

export interface Qcow2Layout {
  virtualSize: number;
  l1Size: number;
  /** Data clusters under each L2 table (0 = the table is not written). */
  dataPerL2: number[];
  refcountTableOffset: number;
  refcountTableClusters: number;
  refcountBlocksOffset: number;
  refcountBlocks: number;
  l1Offset: number;
  l1Clusters: number;
  l2Offset: number;
  dataOffset: number;
  totalClusters: number;
}

export function qcow2Layout(disk: VirtualDisk): Qcow2Layout {
  const guestClusters = Math.ceil(disk.virtualSize / CLUSTER);
  const l1Size = Math.ceil(guestClusters / L2_ENTRIES);
  const dataPerL2 = new Array<number>(l1Size).fill(0);
  for (const i of disk.dataChunks()) dataPerL2[Math.floor(i / CHUNKS_PER_L2)] += runBlockCount(nonZeroRuns(disk, i));
  const l2Tables = dataPerL2.filter((n) => n > 0).length;
  const dataClusters = dataPerL2.reduce((a, b) => a + b, 0);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / CLUSTER));
  const fixed = 1 + l1Clusters + l2Tables + dataClusters;
  // The refcount structures count themselves: iterate to the fixed point (two or three rounds).
  let blocks = 0;
  let tableClusters = 0;
  for (;;) {
    const total = fixed + blocks + tableClusters;
    const b = Math.ceil(total / REFCOUNTS_PER_BLOCK);
    const t = Math.ceil((b * 8) / CLUSTER);
    if (b === blocks && t === tableClusters) break;
    blocks = b;
    tableClusters = t;
  }
  const refcountBlocksOffset = (1 + tableClusters) * CLUSTER;
  const l1Offset = refcountBlocksOffset + blocks * CLUSTER;
  const l2Offset = l1Offset + l1Clusters * CLUSTER;
  const dataOffset = l2Offset + l2Tables * CLUSTER;
  return {
    virtualSize: disk.virtualSize,
    l1Size,
    dataPerL2,
    refcountTableOffset: CLUSTER,
    refcountTableClusters: tableClusters,
    refcountBlocksOffset,
    refcountBlocks: blocks,
    l1Offset,
    l1Clusters,
    l2Offset,
    dataOffset,
    totalClusters: fixed + blocks + tableClusters,
  };
}

export function qcow2Export(disk: VirtualDisk): ExportStream {
  // QEMU reads a qcow2 size as whole sectors and would silently drop a partial last sector.
  requireWholeSectors(disk.virtualSize, 'qcow2');
  const layout = qcow2Layout(disk);
  return { size: layout.totalClusters * CLUSTER, stream: () => qcow2Bytes(disk, layout) };
}

async function* qcow2Bytes(disk: VirtualDisk, L: Qcow2Layout): AsyncGenerator<Buffer> {
  yield header(L);
  yield refcountTable(L);
  yield* refcountBlocks(L);
  yield l1Table(L);
  yield* l2Tables(disk, L);
  yield* dataClusters(disk);
}

function header(L: Qcow2Layout): Buffer {
  const h = Buffer.alloc(CLUSTER);
  h.writeUInt32BE(0x514649fb, 0);
  h.writeUInt32BE(3, 4);
  h.writeUInt32BE(CLUSTER_BITS, 20);
  h.writeBigUInt64BE(BigInt(L.virtualSize), 24);
  h.writeUInt32BE(L.l1Size, 36);
  h.writeBigUInt64BE(BigInt(L.l1Offset), 40);
  h.writeBigUInt64BE(BigInt(L.refcountTableOffset), 48);
  h.writeUInt32BE(L.refcountTableClusters, 56);
  h.writeUInt32BE(REFCOUNT_ORDER, 96);
  h.writeUInt32BE(HEADER_LENGTH, 100);
  // Bytes from HEADER_LENGTH on are zero: the end-of-extensions marker.
  return h;
}

function refcountTable(L: Qcow2Layout): Buffer {
  const t = Buffer.alloc(L.refcountTableClusters * CLUSTER);
  for (let i = 0; i < L.refcountBlocks; i++) writeOffset(t, i * 8, L.refcountBlocksOffset + i * CLUSTER, 0);
  return t;
}

function* refcountBlocks(L: Qcow2Layout): Generator<Buffer> {
  const ones = Buffer.alloc(CLUSTER);
  for (let i = 1; i < CLUSTER; i += 2) ones[i] = 1; // u16 BE refcount 1 in every entry
  for (let b = 0; b < L.refcountBlocks; b++) {
    const counted = Math.min(REFCOUNTS_PER_BLOCK, L.totalClusters - b * REFCOUNTS_PER_BLOCK);
    if (counted === REFCOUNTS_PER_BLOCK) yield ones;
    else {
      yield ones.subarray(0, counted * 2);
      yield* zeros(CLUSTER - counted * 2);
    }
  }
}

function l1Table(L: Qcow2Layout): Buffer {
  const t = Buffer.alloc(L.l1Clusters * CLUSTER);
  let l2 = 0;
  L.dataPerL2.forEach((n, k) => {
    if (n > 0) writeOffset(t, k * 8, L.l2Offset + l2++ * CLUSTER, COPIED_HI);
  });
  return t;
}

function* l2Tables(disk: VirtualDisk, L: Qcow2Layout): Generator<Buffer> {
  let host = L.dataOffset; // host offset of the next data cluster
  for (let k = 0; k < L.l1Size; k++) {
    if (L.dataPerL2[k] === 0) continue;
    const t = Buffer.alloc(CLUSTER);
    const firstChunk = k * CHUNKS_PER_L2;
    const endChunk = Math.min(disk.chunkCount, firstChunk + CHUNKS_PER_L2);
    for (let c = firstChunk; c < endChunk; c++) {
      for (const [s, e] of nonZeroRuns(disk, c)) {
        for (let b = s; b < e; b++) {
          writeOffset(t, ((c - firstChunk) * BLOCKS_PER_CHUNK + b) * 8, host, COPIED_HI);
          host += CLUSTER;
        }
      }
    }
    yield t;
  }
}

async function* dataClusters(disk: VirtualDisk): AsyncGenerator<Buffer> {
  const runsOf = new Map<number, readonly BlockRun[]>();
  for (const i of disk.dataChunks()) {
    const runs = nonZeroRuns(disk, i);
    if (runs.length > 0) runsOf.set(i, runs);
  }
  for await (const [index, data] of readChunks(disk, [...runsOf.keys()])) {
    const len = chunkLength(disk.virtualSize, index);
    for (const run of runsOf.get(index)!) {
      const [from, to] = runBytes(run, len);
      yield data.subarray(from, to);
      const tail = (to - from) % CLUSTER; // only the disk's last, partial block
      if (tail !== 0) yield* zeros(CLUSTER - tail);
    }
  }
}

/** Writes a cluster-aligned offset (< 2^56) as a u64 BE entry with `flagsHi` OR-ed into the top word. */
function writeOffset(buf: Buffer, at: number, offset: number, flagsHi: number): void {
  buf.writeUInt32BE((Math.floor(offset / 2 ** 32) | flagsHi) >>> 0, at);
  buf.writeUInt32BE(offset % 2 ** 32, at + 4);
}
