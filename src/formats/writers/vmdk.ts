/**
 * streamOptimized VMDK export in the VMware layout: header (gdOffset = GD_AT_END), embedded descriptor,
 * then per non-zero 64 KiB grain a grain marker + zlib data (level 1) padded to 512 bytes; after the grains
 * of each 32 MiB grain table that holds any, a GT marker + GT; at the end a GD marker + GD, a footer marker
 * + footer (the header with the real gdOffset) and the end-of-stream marker.
 * Compression runs in the libuv thread pool (async zlib), so both cores work while the stream is consumed.
 */
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CHUNK_SIZE, ZERO_BLOCK_SIZE, chunkLength, type VirtualDisk } from '../../domain/disk.ts';
import { type BlockRun, nonZeroRuns, readChunks, requireWholeSectors } from './disk-chunks.ts';
import type { ExportOptions, ExportStream } from './types.ts';

const deflate = promisify(zlib.deflate);

const SECTOR = 512;
const GRAIN = ZERO_BLOCK_SIZE;
const GRAIN_SECTORS = GRAIN / SECTOR;
const GTES_PER_GT = 512;
const GRAINS_PER_CHUNK = CHUNK_SIZE / GRAIN;
const CHUNKS_PER_GT = (GTES_PER_GT * GRAIN) / CHUNK_SIZE;
const DESCRIPTOR_OFFSET = 1;
const DESCRIPTOR_SECTORS = 20;
/** Grains start 64 KiB in, as VMware lays it out. */
const OVERHEAD_SECTORS = 128;
const GD_AT_END = 0xffffffffffffffffn;
const FLAGS = (1 << 0) | (1 << 16) | (1 << 17); // newline test valid, compressed grains, markers
const MARKER_EOS = 0;
const MARKER_GT = 1;
const MARKER_GD = 2;
const MARKER_FOOTER = 3;
/** Chunks being compressed ahead of the consumer. */
const COMPRESS_AHEAD = 2;

if (CHUNK_SIZE % GRAIN !== 0 || CHUNKS_PER_GT !== 8) throw new Error('vmdk writer assumes 64 KiB grains in 4 MiB chunks');

export function vmdkStreamOptimizedExport(disk: VirtualDisk, options: ExportOptions = {}): ExportStream {
  requireWholeSectors(disk.virtualSize, 'VMDK');
  const id = options.uniqueId ?? randomBytes(16);
  const cid = id.readUInt32BE(0) === 0xffffffff ? 0xfffffffe : id.readUInt32BE(0);
  return { size: undefined, stream: () => vmdkBytes(disk, cid) };
}

async function* vmdkBytes(disk: VirtualDisk, cid: number): AsyncGenerator<Buffer> {
  const capacity = disk.virtualSize / SECTOR;
  const gtCount = Math.ceil(disk.chunkCount / CHUNKS_PER_GT);
  const gd = new Uint32Array(gtCount);
  let gt: Uint32Array | null = null; // the grain table being filled
  let gtIndex = -1;
  let sector = OVERHEAD_SECTORS; // where the next thing goes

  yield header(capacity, GD_AT_END);
  yield descriptor(capacity, cid);

  const flushGt = function* (): Generator<Buffer> {
    if (gt === null) return;
    gd[gtIndex] = checkedSector(sector + 1);
    yield marker(GTES_PER_GT * 4 / SECTOR, MARKER_GT);
    yield leBytes(gt);
    sector += 1 + (GTES_PER_GT * 4) / SECTOR;
    gt = null;
  };

  for await (const { index, grains } of compressedChunks(disk)) {
    const g = Math.floor(index / CHUNKS_PER_GT);
    if (g !== gtIndex) {
      yield* flushGt();
      gtIndex = g;
      gt = new Uint32Array(GTES_PER_GT);
    }
    const out = Buffer.alloc(grains.reduce((n, gr) => n + grainRecordLength(gr.data), 0));
    let at = 0;
    for (const { grain, data } of grains) {
      gt![grain % GTES_PER_GT] = checkedSector(sector + at / SECTOR);
      out.writeBigUInt64LE(BigInt(grain * GRAIN_SECTORS), at);
      out.writeUInt32LE(data.length, at + 8);
      data.copy(out, at + 12);
      at += grainRecordLength(data);
    }
    sector += out.length / SECTOR;
    yield out;
  }
  yield* flushGt();

  const gdSectors = Math.ceil((gtCount * 4) / SECTOR);
  const gdOffset = sector + 1;
  yield marker(gdSectors, MARKER_GD);
  const gdBytes = Buffer.alloc(gdSectors * SECTOR);
  leBytes(gd).copy(gdBytes);
  yield gdBytes;
  sector += 1 + gdSectors;
  yield marker(1, MARKER_FOOTER);
  yield header(capacity, BigInt(gdOffset));
  yield marker(0, MARKER_EOS);
}

interface CompressedGrain {
  grain: number; // grain index on the disk
  data: Buffer; // zlib stream
}

/** Non-zero grains of each chunk with data, compressed, in order, a few chunks ahead. */
async function* compressedChunks(disk: VirtualDisk): AsyncGenerator<{ index: number; grains: CompressedGrain[] }> {
  const runsOf = new Map<number, readonly BlockRun[]>();
  for (const i of disk.dataChunks()) {
    const runs = nonZeroRuns(disk, i);
    if (runs.length > 0) runsOf.set(i, runs);
  }
  const pending: Promise<{ index: number; grains: CompressedGrain[] }>[] = [];
  const reader = readChunks(disk, [...runsOf.keys()]);
  let readerDone = false;
  const startNext = async () => {
    const r = await reader.next();
    if (r.done) {
      readerDone = true;
      return false;
    }
    const [index, data] = r.value;
    const p = compressChunk(disk, index, data, runsOf.get(index)!);
    p.catch(() => {}); // awaited below; keep a failure from becoming an unhandled rejection meanwhile
    pending.push(p);
    return true;
  };
  try {
    for (;;) {
      while (!readerDone && pending.length < COMPRESS_AHEAD) await startNext();
      const next = pending.shift();
      if (next === undefined) return;
      yield await next;
    }
  } finally {
    await reader.return(undefined);
  }
}

async function compressChunk(disk: VirtualDisk, index: number, data: Buffer, runs: readonly BlockRun[]) {
  const len = chunkLength(disk.virtualSize, index);
  const jobs: Promise<CompressedGrain>[] = [];
  for (const [s, e] of runs) {
    for (let b = s; b < e; b++) {
      const from = b * GRAIN;
      const to = Math.min(len, from + GRAIN);
      const grainBytes = to - from === GRAIN ? data.subarray(from, to) : padded(data.subarray(from, to));
      const grain = index * GRAINS_PER_CHUNK + b;
      jobs.push(deflate(grainBytes, { level: 1 }).then((z) => ({ grain, data: z })));
    }
  }
  return { index, grains: await Promise.all(jobs) };
}

/** The disk's last grain, zero-filled to a whole grain (readers inflate whole grains). */
function padded(tail: Buffer): Buffer {
  const g = Buffer.alloc(GRAIN);
  tail.copy(g);
  return g;
}

function grainRecordLength(z: Buffer): number {
  return Math.ceil((12 + z.length) / SECTOR) * SECTOR;
}

function header(capacity: number, gdOffset: bigint): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write('KDMV', 0, 'latin1');
  h.writeUInt32LE(3, 4);
  h.writeUInt32LE(FLAGS, 8);
  h.writeBigUInt64LE(BigInt(capacity), 12);
  h.writeBigUInt64LE(BigInt(GRAIN_SECTORS), 20);
  h.writeBigUInt64LE(BigInt(DESCRIPTOR_OFFSET), 28);
  h.writeBigUInt64LE(BigInt(DESCRIPTOR_SECTORS), 36);
  h.writeUInt32LE(GTES_PER_GT, 44);
  h.writeBigUInt64LE(0n, 48); // no redundant GD
  h.writeBigUInt64LE(gdOffset, 56);
  h.writeBigUInt64LE(BigInt(OVERHEAD_SECTORS), 64);
  h.write('\n \r\n', 73, 'latin1');
  h.writeUInt16LE(1, 77); // deflate
  return h;
}

/** The embedded descriptor, padded so the grains start at OVERHEAD_SECTORS. */
function descriptor(capacity: number, cid: number): Buffer {
  const cylinders = Math.floor(capacity / (16 * 63));
  const text = [
    '# Disk DescriptorFile',
    'version=1',
    `CID=${cid.toString(16).padStart(8, '0')}`,
    'parentCID=ffffffff',
    'createType="streamOptimized"',
    '',
    '# Extent description',
    `RW ${capacity} SPARSE "disk.vmdk"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.virtualHWVersion = "4"',
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "16"',
    'ddb.geometry.sectors = "63"',
    'ddb.adapterType = "ide"',
    '',
  ].join('\n');
  const out = Buffer.alloc((OVERHEAD_SECTORS - DESCRIPTOR_OFFSET) * SECTOR);
  out.write(text, 0, 'latin1');
  return out;
}

function marker(numSectors: number, type: number): Buffer {
  const m = Buffer.alloc(SECTOR);
  m.writeBigUInt64LE(BigInt(numSectors), 0);
  m.writeUInt32LE(0, 8);
  m.writeUInt32LE(type, 12);
  return m;
}

function leBytes(table: Uint32Array): Buffer {
  const b = Buffer.alloc(table.length * 4);
  for (let i = 0; i < table.length; i++) b.writeUInt32LE(table[i], i * 4);
  return b;
}

/** GD and GT entries are u32 sector numbers: a file past 2 TiB cannot be described. */
function checkedSector(s: number): number {
  if (s > 0xffffffff) throw new Error('VMDK export exceeds 2 TiB of file (u32 sector offsets)');
  return s;
}
