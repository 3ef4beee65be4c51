// Plain ESM so it starts without tsx. Runs one running hash (workerData.algorithm) over shared chunks and zero runs
// (`zeros`: a sparse body's holes), in order, and answers sha256 requests for single chunks (`chunk`) between them.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';

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
  if (msg.chunk !== undefined) {
    parentPort.postMessage({ chunk: msg.chunk, sha256: createHash('sha256').update(view).digest('hex') });
    return;
  }
  hash.update(view);
  parentPort.postMessage({ ack: msg.slot });
});
