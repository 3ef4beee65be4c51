/** Chunk refs are `sha256:<64 lower-case hex>`; stores turn them into keys, so validate before use. */
import crypto from 'node:crypto';
import type { ChunkRef } from './types.ts';

const REF_RE = /^sha256:([0-9a-f]{64})$/;

export function isChunkRef(s: string): boolean {
  return REF_RE.test(s);
}

/** The 64 hex digits of a ref; throws on anything else (keeps ref-derived paths and keys safe). */
export function refHex(ref: ChunkRef): string {
  const m = REF_RE.exec(ref);
  if (!m) throw new TypeError(`not a chunk ref: ${JSON.stringify(ref)}`);
  return m[1];
}

export function refFromHex(hex: string): ChunkRef {
  const ref = 'sha256:' + hex;
  refHex(ref);
  return ref;
}

/** Hashes on the calling thread; HashPool moves this off the event loop when there is a backlog. */
export function sha256Ref(data: Uint8Array): ChunkRef {
  return 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');
}
