/** Formats whose guest bytes are the file bytes: raw, ISO, and (with a footer) fixed VHD. */
import { CHUNK_SIZE, chunkLength } from '../domain/disk.ts';
import type { ByteSource } from './types.ts';
import type { Features, OpenedImage } from './image.ts';
import { checkVirtualSize, type Limits } from './limits.ts';
import { fail } from './errors.ts';
import { readExact } from './source.ts';
import { overlapsData } from './data-extents.ts';

/**
 * Guest byte g is file byte `dataOffset + g`, for `virtualSize` bytes. With the file's data extents (a raw file with
 * holes), a chunk that lies in a hole is planned as nothing allocated, so it is never read.
 */
export function flatImage(virtualSize: number, features: Features, dataOffset = 0, extents?: readonly [number, number][]): OpenedImage {
  return {
    virtualSize,
    features,
    scan: async () => (extents ? plannedBytes(virtualSize, dataOffset, extents) : virtualSize),
    plan: async (index) => {
      const host = dataOffset + index * CHUNK_SIZE;
      const length = chunkLength(virtualSize, index);
      if (extents && !overlapsData(extents, host, host + length)) return null;
      return [{ kind: 'data', at: 0, length, host }];
    },
  };
}

/** The bytes of the chunks `plan` reads: every chunk that overlaps an extent, whole. */
function plannedBytes(virtualSize: number, dataOffset: number, extents: readonly [number, number][]): number {
  let bytes = 0;
  let last = -1;
  for (const [a, b] of extents) {
    const from = Math.max(a, dataOffset) - dataOffset;
    const to = Math.min(b, dataOffset + virtualSize) - dataOffset;
    if (to <= from) continue;
    for (let i = Math.max(Math.floor(from / CHUNK_SIZE), last + 1); i <= Math.floor((to - 1) / CHUNK_SIZE); i++) {
      bytes += chunkLength(virtualSize, i);
      last = i;
    }
  }
  return bytes;
}

export async function openRaw(src: ByteSource, limits: Limits): Promise<OpenedImage> {
  checkVirtualSize(src.size, limits, 'raw');
  return flatImage(src.size, {}, 0, src.dataExtents);
}

const ISO_DESCRIPTORS = 0x8000;
const MAX_DESCRIPTORS = 64;

/** ISO 9660 (and UDF bridge) images: the primary volume descriptor's size must fit in the file. */
export async function openIso(src: ByteSource, limits: Limits): Promise<OpenedImage> {
  checkVirtualSize(src.size, limits, 'ISO');
  const features: Features = {};
  for (let i = 0; i < MAX_DESCRIPTORS && ISO_DESCRIPTORS + (i + 1) * 2048 <= src.size; i++) {
    const d = await readExact(src, ISO_DESCRIPTORS + i * 2048, 2048, 'ISO volume descriptor');
    const id = d.toString('latin1', 1, 6);
    if (id !== 'CD001') continue;
    if (d[0] === 255) break;
    if (d[0] !== 1) continue;
    const blocks = d.readUInt32LE(80);
    const blockSize = d.readUInt16LE(128);
    if (![512, 1024, 2048].includes(blockSize)) fail('malformed', `ISO logical block size ${blockSize}`);
    const volumeBytes = blocks * blockSize;
    if (volumeBytes > src.size) {
      fail('truncated', `the ISO volume is ${volumeBytes} bytes but the file has ${src.size}`);
    }
    features.volumeBytes = volumeBytes;
    features.volumeId = d.toString('latin1', 40, 72).trim();
    break;
  }
  return flatImage(src.size, features);
}
