/** Resource limits the inspector and readers enforce on untrusted images. */
import type { InspectOptions } from './types.ts';
import { fail } from './errors.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** 2 TiB plus slack for formats that round sizes up (VHD geometry). */
export const DEFAULT_MAX_VIRTUAL_SIZE = 2 * TiB + GiB;
export const DEFAULT_MAX_METADATA_BYTES = 256 * MiB;
/** QEMU's own cap on a qcow2 L1 table (and a VMDK grain directory). */
export const MAX_L1_BYTES = 32 * MiB;
/**
 * Deflate expands at most about 1032:1 (a 258-byte match costs at least 2 bits), so a file cannot hold more
 * compressed guest data than this many times its size.
 */
export const MAX_INFLATE_RATIO = 1032;

export interface Limits {
  maxVirtualSize: number;
  maxMetadataBytes: number;
}

export function resolveLimits(opts: InspectOptions = {}): Limits {
  return {
    maxVirtualSize: opts.maxVirtualSize ?? DEFAULT_MAX_VIRTUAL_SIZE,
    maxMetadataBytes: opts.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
  };
}

/** Virtual sizes must be positive whole sectors and within policy. */
export function checkVirtualSize(size: number, limits: Limits, what: string): void {
  if (!Number.isSafeInteger(size) || size > limits.maxVirtualSize) {
    fail('absurd-size', `${what} virtual size ${size} exceeds the limit of ${limits.maxVirtualSize} bytes`);
  }
  if (size <= 0) fail('malformed', `${what} virtual size is ${size}`);
  if (size % 512 !== 0) fail('malformed', `${what} virtual size ${size} is not a multiple of 512 bytes`);
}

/**
 * The work an import does is bounded by the file, not by what the file claims: guest data that is not shared
 * (readers refuse that) fits in the file, or in MAX_INFLATE_RATIO times it when compressed.
 */
export function checkAllocated(allocatedBytes: number, fileSize: number, compressed: boolean): void {
  const max = compressed ? fileSize * MAX_INFLATE_RATIO : fileSize;
  if (allocatedBytes > max) {
    fail('absurd-size', `the file maps ${allocatedBytes} bytes of guest data but holds ${fileSize}${compressed ? ' (compressed)' : ''}`);
  }
}

/** A table the parser is about to hold in memory. */
export function checkTableBytes(bytes: number, limits: Limits, what: string, cap = limits.maxMetadataBytes): void {
  const max = Math.min(cap, limits.maxMetadataBytes);
  if (!Number.isSafeInteger(bytes) || bytes > max) {
    fail('absurd-size', `${what} of ${bytes} bytes exceeds the limit of ${max} bytes`);
  }
}
