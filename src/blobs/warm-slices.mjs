// Plain ESM, shared by the hash workers. sha256 with the CPU's SHA extensions is faster than this VM's memory: over
// bytes another thread wrote (not in this core's cache) it ran at 1.0 s a GiB, and at 0.8 s when each 256 KiB slice
// was first read a cache line at a time (loads the core can run many of at once) and then hashed from the cache.
// md5 and sha512 are slower than memory, and the extra reads only cost them.
export const SLICE = 256 * 1024;
const LINE = 64;
let sink = 0;

/** Reads a byte of every cache line of `bytes` (at most a slice), so what reads it next finds it in the cache. */
export function pullIntoCache(bytes) {
  for (let i = 0; i < bytes.length; i += LINE) sink ^= bytes[i];
  return sink;
}

/** `hash.update(bytes)`, a slice at a time, each slice pulled into the cache first. */
export function updateWarm(hash, bytes) {
  for (let off = 0; off < bytes.length; off += SLICE) {
    const slice = bytes.subarray(off, Math.min(bytes.length, off + SLICE));
    pullIntoCache(slice);
    hash.update(slice);
  }
}
