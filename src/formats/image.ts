/** The shape every format parser produces, and the dispatch from format name to parser. */
import type { ByteSource, ImportFormat } from './types.ts';
import type { Piece } from './pieces.ts';
import type { Limits } from './limits.ts';
import type { Detection } from './detect.ts';
import { openRaw, openIso } from './flat.ts';
import { openQcow2 } from './qcow2/reader.ts';
import { openVhd } from './vhd/reader.ts';
import { openVmdk } from './vmdk/reader.ts';
import { openVhdx } from './vhdx/reader.ts';

export type Features = Record<string, string | number | boolean>;

/** A parsed image whose headers passed validation. */
export interface OpenedImage {
  readonly virtualSize: number;
  /** Format facts; `scan` may add to them (e.g. whether compressed clusters occur). */
  readonly features: Features;
  /** Reads and bounds-checks every table; returns the bytes of guest data the file holds. */
  scan(): Promise<number>;
  /** Where the bytes of chunk `index` come from; null when nothing in it is allocated (no I/O needed). */
  plan(index: number): Promise<Piece[] | null>;
}

export function openImage(src: ByteSource, format: ImportFormat, detection: Detection, limits: Limits): Promise<OpenedImage> {
  switch (format) {
    case 'raw': return openRaw(src, limits);
    case 'iso': return openIso(src, limits);
    case 'qcow2': return openQcow2(src, limits);
    case 'vhd': return openVhd(src, limits);
    case 'vmdk': return openVmdk(src, limits, detection);
    case 'vhdx': return openVhdx(src, limits);
  }
}
