/** Failures of the chunk layer. services/errors.ts maps them to InternalError (jobs may retry first). */
import type { ChunkRef } from './types.ts';

export class ChunkNotFoundError extends Error {
  constructor(readonly ref: ChunkRef, where: string) {
    super(`chunk ${ref} is missing from ${where}`);
    this.name = 'ChunkNotFoundError';
  }
}

export class ChunkCorruptError extends Error {
  constructor(readonly ref: ChunkRef, detail: string) {
    super(`chunk ${ref} is corrupt: ${detail}`);
    this.name = 'ChunkCorruptError';
  }
}

/**
 * A manifest was about to reference chunks that are not live in the index (collected by GC after the
 * grace period, or never stored). Nothing was committed; re-running the import is safe.
 */
export class ChunkNotLiveError extends Error {
  constructor(readonly refs: ChunkRef[]) {
    super(`${refs.length} chunk(s) are not live (first: ${refs[0]}); re-run the import`);
    this.name = 'ChunkNotLiveError';
  }
}
