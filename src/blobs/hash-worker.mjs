// Plain ESM so it starts without tsx. Hashes a chunk; a transferred buffer is handed back, shared memory stays shared.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';

parentPort.on('message', ({ id, buf, offset, length }) => {
  const hex = createHash('sha256').update(new Uint8Array(buf, offset, length)).digest('hex');
  if (buf instanceof SharedArrayBuffer) parentPort.postMessage({ id, hex });
  else parentPort.postMessage({ id, hex, buf }, [buf]);
});
