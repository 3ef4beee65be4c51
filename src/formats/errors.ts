/**
 * Why the data plane refuses a file. Formats never speak wire codes: services/errors.ts turns these into
 * the API's error codes in one place.
 */
export type FormatErrorReason =
  | 'backing-file' // refers to another file (qcow2 backing file, VHD/VHDX parent, VMDK parent)
  | 'external-data-file' // keeps its data in another file
  | 'encrypted'
  | 'unknown-feature' // incompatible feature bits we do not know
  | 'unsafe-extent' // a VMDK descriptor that names other files
  | 'table-out-of-bounds'
  | 'table-overlap'
  | 'shared-cluster' // one host cluster, block or grain mapped at several guest offsets
  | 'absurd-size'
  | 'truncated'
  | 'bad-checksum'
  | 'malformed'
  | 'unsupported-format'
  | 'unsupported-feature'
  | 'format-mismatch' // the declared format is not the detected one (see FormatMismatchError)
  | 'unexportable'; // an export format cannot hold this disk

export class FormatError extends Error {
  constructor(readonly reason: FormatErrorReason, readonly detail: string) {
    super(detail);
    this.name = 'FormatError';
  }
}

/** The file is not what it was declared to be (or matches several formats). */
export class FormatMismatchError extends FormatError {
  constructor(readonly declared: string, readonly found: string) {
    super('format-mismatch', `declared as ${declared} but the file is ${found}`);
  }
}

export function fail(reason: FormatErrorReason, detail: string): never {
  throw new FormatError(reason, detail);
}
