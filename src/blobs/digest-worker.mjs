// Plain ESM so it starts without tsx. Runs one running hash (workerData.algorithm) over shared chunks and zero runs
// (`zeros`: a sparse body's holes), in order, and answers sha256 requests for single chunks (`chunk`), with the running
// hash's piece (`slot`) or between them.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { pullIntoCache, SLICE, updateWarm } from './warm-slices.mjs';

const hash = createHash(workerData.algorithm);
const ZEROS = new Uint8Array(4 * 1024 * 1024);
parentPort.on('message', (msg) => {
  if (msg.zeros !== undefined) {
    for (let left = msg.zeros; left > 0; left -= ZEROS.length) hash.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    return;
  }
  if (msg.end) {
    parentPort.postMessage({ hex: hash.digest('hex') });
    return;
  }
  const view = new Uint8Array(msg.sab, 0, msg.length);
  if (msg.chunk === undefined) {
    if (workerData.algorithm === 'sha256') updateWarm(hash, view);
    else hash.update(view);
    parentPort.postMessage({ ack: msg.slot });
    return;
  }
  // The piece's sha256, and with a slot the running hash too, slice by slice: the second pass over a slice reads it
  // from this core's cache, where a second pass over the whole 4 MiB piece would read it from memory again.
  // A running md5 or sha512 reads the slice into the cache on its own; before a sha256 the slice is pulled in first.
  const sha256 = createHash('sha256');
  const pullFirst = msg.slot === undefined || workerData.algorithm === 'sha256';
  for (let off = 0; off < view.length; off += SLICE) {
    const slice = view.subarray(off, Math.min(view.length, off + SLICE));
    if (pullFirst) pullIntoCache(slice);
    if (msg.slot !== undefined) hash.update(slice);
    sha256.update(slice);
  }
  parentPort.postMessage({ ack: msg.slot, chunk: msg.chunk, sha256: sha256.digest('hex') });
});
