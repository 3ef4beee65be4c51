/** The shape every format parser produces (dispatch from format name to parser is in open.ts). */
import type { Piece } from './pieces.ts';

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
