// Plain ESM so it starts without tsx. Runs one running hash (workerData.algorithm) over shared chunks, in order.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';

const hash = createHash(workerData.algorithm);
parentPort.on('message', (msg) => {
  if (msg.end) {
    parentPort.postMessage({ hex: hash.digest('hex') });
    return;
  }
  hash.update(new Uint8Array(msg.sab, 0, msg.length));
  parentPort.postMessage({ ack: msg.slot });
});
