/** Bytes [start, end) of some data: an HTTP range once resolved against the data's size. */
export interface ByteRange {
  start: number;
  end: number;
}
