// Plain ESM so it starts without tsx. Hashes a transferred chunk and hands the buffer back.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';

parentPort.on('message', ({ id, buf, offset, length }) => {
  const hex = createHash('sha256').update(new Uint8Array(buf, offset, length)).digest('hex');
  parentPort.postMessage({ id, hex, buf }, [buf]);
});
