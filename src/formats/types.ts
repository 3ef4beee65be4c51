/** Disk formats we detect. Only some are importable; see inspector rules. */
export type DetectedFormat = 'raw' | 'qcow2' | 'vhd' | 'vhdx' | 'vmdk' | 'iso' | 'qed' | 'vdi' | 'luks';
export type ImportFormat = 'raw' | 'qcow2' | 'vhd' | 'vhdx' | 'vmdk' | 'iso';
export type ExportFormat = 'raw' | 'qcow2' | 'vhd' | 'vhd-fixed' | 'vmdk';

/** Random-access byte source (a file, a spooled upload). */
export interface ByteSource {
  readonly size: number;
  /**
   * Where a file with holes holds data ([offset, end) pairs, ascending; SEEK_DATA): bytes outside them are zeros
   * and need not be read. Undefined when unknown or the file has no holes.
   */
  readonly dataExtents?: readonly [number, number][];
  /**
   * The descriptor of the file behind a source that reads through the page cache (handleSource without `direct`), for
   * a worker thread that reads its bytes itself: valid while the source is open, and only for reads within `size`.
   */
  readonly fd?: number;
  /** Reads up to `length` bytes at `position` into `buf` at `offset`; returns bytes read. */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
}

export interface Inspection {
  format: ImportFormat;
  virtualSize: number;
  /** Bytes of guest data the file actually holds (allocated clusters/blocks/grains). */
  allocatedBytes: number;
  /** Format-specific facts: subformat, cluster size, compression, partition table, ... */
  features: Record<string, string | number | boolean>;
}

export interface InspectOptions {
  /** What the user said the file is. A mismatch with the detected format is rejected. */
  declared?: ImportFormat;
  /** Largest virtual size accepted (default 2 TiB + a little). */
  maxVirtualSize?: number;
  /** Cap on metadata bytes (tables) the inspector/reader may hold (default 256 MiB). */
  maxMetadataBytes?: number;
}

/** A chunk of virtual disk produced by a reader: `data` null means all zero and cost no I/O. */
export interface ReadChunk {
  index: number;
  data: Buffer | null;
  /** Present (with a reader opened with `deferReads`) when `data` is not filled yet: the consumer fills it. */
  fill?: ChunkFill;
}

/** Plain file bytes for a chunk: `length` bytes at `host` land at `at`. */
export interface DataRun {
  at: number;
  length: number;
  host: number;
}

/**
 * A chunk buffer still to be filled: the `runs` of the file `fd` go into it and every other byte is zero. A worker
 * thread does it with the descriptor (reading and hashing each slice while it is in the core's cache); `readHere`
 * does the same on this thread through the source. Made by `planFill` (pieces.ts).
 */
export interface ChunkFill {
  fd: number;
  runs: readonly DataRun[];
  readHere(): Promise<void>;
}

/** Streams the virtual disk as fixed 4 MiB chunks aligned to virtual offsets, in index order. */
export interface DiskReader {
  readonly virtualSize: number;
  chunks(): AsyncIterable<ReadChunk>;
}
