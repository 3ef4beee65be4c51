/** An export being produced: the output file's bytes in order, ready for HTTP, S3 multipart or a file. */
export interface ExportStream {
  /**
   * Exact number of bytes `stream()` yields, known before any data is read.
   * `undefined` for streamOptimized VMDK: its grains are compressed, so the length is only known at the end.
   */
  readonly size: number | undefined;
  /**
   * The output bytes. Each call starts a fresh pass over the disk and yields the same bytes.
   * Yielded buffers may be shared, read-only slices (e.g. of a zero buffer): never write into them.
   */
  stream(): AsyncIterable<Buffer>;
}

export interface ExportOptions {
  /** Timestamp written into VHD footers (default: now). Fix it for byte-identical re-exports (HTTP ranges). */
  now?: Date;
  /** 16-byte identity written into VHD footers / the VMDK CID (default: random). */
  uniqueId?: Buffer;
}
