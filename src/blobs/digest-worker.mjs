// Plain ESM so it starts without tsx. Runs one running hash (workerData.algorithm) over shared chunks, in order,
// and answers sha256 requests for single chunks (`chunk`) between them.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';

const hash = createHash(workerData.algorithm);
parentPort.on('message', (msg) => {
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
