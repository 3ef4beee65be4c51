/**
 * Running digests (md5, sha512, …) of a byte stream written to a file, each hash on its own worker thread so
 * they run alongside each other and alongside the writes. The stream is cut into 4 MiB pieces in shared
 * buffers (a few at a time, so memory stays bounded) that every worker reads in order; a body of one piece or
 * less is hashed on the caller's thread, as starting workers would cost more than it saves.
 */
import { Worker } from 'node:worker_threads';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CHUNK_SIZE } from '../domain/disk.ts';

const WORKER_URL = new URL('./digest-worker.mjs', import.meta.url);
/** Pieces being written or hashed at once. */
const IN_FLIGHT = 4;

interface Piece {
  sab: SharedArrayBuffer;
  buf: Buffer;
  /** Workers plus the write that have not finished with it yet. */
  pending: number;
}

/** Writes `body` to the new file `dest` (exclusive create) while computing `algorithms` over it; returns the byte count and hex digests. */
export async function writeAndDigest(body: Readable, dest: string, algorithms: readonly string[]): Promise<{ size: number; hex: string[] }> {
  const fh = await fs.open(dest, 'wx');
  const workers: Worker[] = [];
  const writes = new Set<Promise<void>>();
  try {
    let size = 0;
    let fill = 0;
    const free: Piece[] = [];
    let created = 0;
    let failure: unknown;
    let wakeFree: (() => void) | undefined;
    const fail = (e: unknown) => { failure ??= e; wakeFree?.(); };
    const finished = (p: Piece) => {
      if (--p.pending > 0) return;
      free.push(p);
      wakeFree?.();
    };
    const bySlot: Piece[] = [];
    const takePiece = async (): Promise<Piece> => {
      for (;;) {
        if (failure !== undefined) throw failure;
        const p = free.pop();
        if (p) return p;
        if (created < IN_FLIGHT) {
          const sab = new SharedArrayBuffer(CHUNK_SIZE);
          const piece = { sab, buf: Buffer.from(sab), pending: 0 };
          bySlot[created++] = piece;
          return piece;
        }
        await new Promise<void>((r) => (wakeFree = r));
        wakeFree = undefined;
      }
    };
    const spawn = () => {
      for (const algorithm of algorithms) {
        const w = new Worker(WORKER_URL, { workerData: { algorithm } });
        w.on('message', (m: { ack?: number }) => { if (m.ack !== undefined) finished(bySlot[m.ack]); });
        w.on('error', fail);
        workers.push(w);
      }
    };
    const emit = (p: Piece, length: number, offset: number) => {
      if (workers.length === 0) spawn();
      p.pending = workers.length + 1;
      const slot = bySlot.indexOf(p);
      for (const w of workers) w.postMessage({ sab: p.sab, length, slot });
      const w: Promise<void> = writeAll(fh, p.buf.subarray(0, length), offset).then(() => finished(p), fail).finally(() => writes.delete(w));
      writes.add(w);
    };
    let piece = await takePiece();
    for await (const data of body as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < data.length) {
        const n = data.copy(piece.buf, fill, off);
        off += n;
        fill += n;
        if (fill === CHUNK_SIZE) {
          emit(piece, fill, size);
          size += fill;
          fill = 0;
          piece = await takePiece();
        }
      }
    }
    if (workers.length === 0) {
      // Nothing handed to workers: at most one piece, hashed here.
      await writeAll(fh, piece.buf.subarray(0, fill), 0);
      const view = piece.buf.subarray(0, fill);
      return { size: fill, hex: algorithms.map((a) => crypto.createHash(a).update(view).digest('hex')) };
    }
    if (fill > 0) {
      emit(piece, fill, size);
      size += fill;
    }
    const hex = await Promise.all(workers.map((w) => new Promise<string>((resolve, reject) => {
      w.on('message', (m: { hex?: string }) => { if (m.hex !== undefined) resolve(m.hex); });
      w.once('error', reject);
      w.postMessage({ end: true });
    })));
    await Promise.all([...writes]);
    if (failure !== undefined) throw failure;
    return { size, hex };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await Promise.allSettled([...writes]);
    await fh.close();
  }
}

async function writeAll(fh: fs.FileHandle, data: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
    off += bytesWritten;
  }
}
