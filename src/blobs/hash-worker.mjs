// Plain ESM so it starts without tsx. Hashes a chunk; a transferred buffer is handed back, shared memory stays shared.
// With `runs`, it first fills the shared chunk itself from the file descriptor (a ChunkFill) and hashes each slice
// right after reading it, while the slice is in this core's cache: the same chunk read by another thread and hashed
// here afterwards costs this thread half as much again (bench/import.ts).
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { SLICE, updateWarm } from './warm-slices.mjs';

/** As domain/disk.ts: the zero mask has a bit per 64 KiB block. */
const ZERO_BLOCK = 64 * 1024;
const ZEROS = new Uint8Array(SLICE);

parentPort.on('message', (msg) => {
  if (msg.runs !== undefined) {
    try {
      parentPort.postMessage({ id: msg.id, ...fillAndHash(msg) });
    } catch (e) {
      parentPort.postMessage({ id: msg.id, error: { message: e.message, code: e.code } });
    }
    return;
  }
  const { id, buf, offset, length } = msg;
  const hash = createHash('sha256');
  updateWarm(hash, new Uint8Array(buf, offset, length));
  const hex = hash.digest('hex');
  if (buf instanceof SharedArrayBuffer) parentPort.postMessage({ id, hex });
  else parentPort.postMessage({ id, hex, buf }, [buf]);
});

/**
 * Fills the chunk (`runs` of [at, length, host] from the file, zeros elsewhere) and returns its sha256 and zero mask
 * (`lo`/`hi` words, as zeroMaskOf), or `zero: true` without hashing when every byte is zero. Slices that are zero
 * while nothing before them was data are hashed only once data follows, so an all-zero chunk costs no hashing.
 */
function fillAndHash({ buf, length, fd, runs }) {
  const chunk = new Uint8Array(buf, 0, length);
  const hash = createHash('sha256');
  const zeroBlocks = new Uint8Array(Math.ceil(length / ZERO_BLOCK)).fill(1);
  let zeroPrefix = 0;
  let sawData = false;
  // Slices come in order and cover the chunk; `knownZero` when the slice is zeros by construction (a gap between runs).
  // Until data is seen no block the slice touches is marked, so its block checks also say whether the slice is zero.
  const take = (from, to, knownZero) => {
    let sliceZero = knownZero;
    if (!knownZero) {
      sliceZero = true;
      for (let b = Math.floor(from / ZERO_BLOCK); b * ZERO_BLOCK < to; b++) {
        if (zeroBlocks[b] && isZero(chunk.subarray(Math.max(from, b * ZERO_BLOCK), Math.min(to, (b + 1) * ZERO_BLOCK)))) continue;
        zeroBlocks[b] = 0;
        sliceZero = false;
      }
    }
    if (!sawData && sliceZero) {
      zeroPrefix = to;
      return;
    }
    for (; !sawData && zeroPrefix > 0; zeroPrefix -= Math.min(zeroPrefix, SLICE)) hash.update(ZEROS.subarray(0, Math.min(zeroPrefix, SLICE)));
    sawData = true;
    hash.update(chunk.subarray(from, to));
  };
  let cursor = 0;
  const zeroTo = (end) => {
    for (; cursor < end; cursor = Math.min(end, cursor + SLICE)) {
      const to = Math.min(end, cursor + SLICE);
      chunk.fill(0, cursor, to);
      take(cursor, to, true);
    }
  };
  for (const [at, runLength, host] of runs) {
    zeroTo(at);
    for (let done = 0; done < runLength;) {
      const n = Math.min(SLICE, runLength - done);
      for (let got = 0; got < n;) {
        const r = readSync(fd, chunk, at + done + got, n - got, host + done + got);
        if (r <= 0) throw Object.assign(new Error(`data (${runLength} bytes at offset ${host}): the file ended at ${host + done + got}`), { code: 'truncated' });
        got += r;
      }
      take(at + done, at + done + n, false);
      done += n;
    }
    cursor = at + runLength;
  }
  zeroTo(length);
  if (!sawData) return { zero: true };
  let lo = 0;
  let hi = 0;
  for (let b = 0; b < zeroBlocks.length && b < 64; b++) {
    if (!zeroBlocks[b]) continue;
    if (b < 32) lo |= 1 << b;
    else hi |= 1 << (b - 32);
  }
  return { hex: hash.digest('hex'), lo: lo >>> 0, hi: hi >>> 0 };
}

function isZero(bytes) {
  for (let off = 0; off < bytes.length; off += ZEROS.length) {
    const part = bytes.subarray(off, Math.min(bytes.length, off + ZEROS.length));
    if (Buffer.compare(part, ZEROS.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}
