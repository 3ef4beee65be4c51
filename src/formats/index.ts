/** Public surface of disk-format inspection and reading. */
export { inspect } from './inspect.ts';
export { openReader, type ReaderOptions } from './reader.ts';
export { openFileSource, bufferSource, readExact, type ClosableByteSource } from './source.ts';
export { detect, detectFromBytes, checkDeclared, HEAD_BYTES, TAIL_BYTES, type Detection, type PartitionTable } from './detect.ts';
export { DEFAULT_MAX_VIRTUAL_SIZE, DEFAULT_MAX_METADATA_BYTES } from './limits.ts';
