/**
 * Running digests (md5, sha512, …) of a byte stream, each hash on its own worker thread so they run alongside
 * each other and alongside whatever consumes the bytes: a file (writeAndDigest) or the chunk store
 * (storeAndDigest, where the same workers also take the chunks' sha256, shared out between them). The stream is
 * cut into 4 MiB pieces in shared buffers (a few at a time, so memory stays bounded) that every worker reads in
 * order; a body of one piece or less is hashed on the caller's thread, as starting workers would cost more than
 * it saves.
 */
import { Worker } from 'node:worker_threads';
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { CHUNK_SIZE, zeroMaskOf } from '../domain/disk.ts';
import type { ChunkBufferPool } from '../formats/buffer-pool.ts';
import { FileWriter } from '../formats/writers/file.ts';
import { decodeSparse } from '../formats/sparse-body.ts';
import { chunksOf } from '../formats/stream-chunks.ts';
import type { ChunkHasher, HashedChunk } from './hash-pool.ts';
import { storeChunks, type ImportDeps } from './importer.ts';
import { patchManifest, zeroManifest } from './manifests.ts';
import type { ChunkEntry, Manifest } from './types.ts';

const WORKER_URL = new URL('./digest-worker.mjs', import.meta.url);

interface Piece {
  sab: SharedArrayBuffer;
  buf: Buffer;
  /** Workers plus the consumer that have not finished with it yet. */
  pending: number;
}

interface DigestWorker {
  worker: Worker;
  /** sha256 jobs sent to it and not answered yet. */
  chunkJobs: Map<number, { resolve(hex: string): void; reject(e: unknown): void }>;
}

/**
 * One stream's pieces and digests. `pieces(body)` yields each piece (a view over a shared buffer; only the last
 * one may be short) once the workers have it; the consumer hands each back with `release` when it is done with
 * it, and `finish` gives the digests once the stream has ended. `hasher` computes a piece's sha256 on a worker.
 */
class PieceDigests {
  private readonly workers: DigestWorker[] = [];
  private readonly bySlot: Piece[] = [];
  private readonly free: Piece[] = [];
  private failure: unknown;
  private wakeFree: (() => void) | undefined;
  private inlineHex: string[] | undefined;
  private size = 0;
  private nextJob = 0;
  /** The piece `add` is filling, and how many bytes it holds. */
  private filling: Piece | undefined;
  private fill = 0;

  /** A piece's sha256, started as the piece went to the workers (`chunkRefs`), by slot. */
  private readonly refs = new Map<number, Promise<string>>();

  /**
   * Pieces come from `buffers` (page-aligned shared memory, which the workers read in place) and go back at `close`.
   * With `chunkRefs` (storeAndDigest), one of the workers also takes each piece's sha256 in the same pass over it.
   */
  constructor(
    private readonly algorithms: readonly string[],
    private readonly inFlight: number,
    private readonly buffers: ChunkBufferPool,
    private readonly chunkRefs = false,
  ) {}

  fail(e: unknown): void {
    this.failure ??= e;
    this.wakeFree?.();
    for (const w of this.workers) for (const job of w.chunkJobs.values()) job.reject(e);
  }

  /** Bytes in the piece being filled. */
  get filled(): number {
    return this.fill;
  }

  release(buf: Buffer): void {
    const p = this.bySlot.find((q) => q.sab === buf.buffer);
    if (p) this.finished(p);
  }

  private finished(p: Piece): void {
    if (--p.pending > 0) return;
    this.free.push(p);
    this.wakeFree?.();
  }

  private async takePiece(): Promise<Piece> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const p = this.free.pop();
      if (p) return p;
      if (this.bySlot.length < this.inFlight) {
        const buf = this.buffers.acquire(CHUNK_SIZE);
        const piece = { sab: buf.buffer as SharedArrayBuffer, buf, pending: 0 };
        this.bySlot.push(piece);
        return piece;
      }
      await new Promise<void>((r) => (this.wakeFree = r));
      this.wakeFree = undefined;
    }
  }

  private spawn(): void {
    for (const algorithm of this.algorithms) {
      const w: DigestWorker = { worker: new Worker(WORKER_URL, { workerData: { algorithm } }), chunkJobs: new Map() };
      w.worker.on('message', (m: { ack?: number; chunk?: number; sha256?: string }) => {
        if (m.ack !== undefined) this.finished(this.bySlot[m.ack]);
        if (m.chunk !== undefined) {
          w.chunkJobs.get(m.chunk)?.resolve(m.sha256!);
          w.chunkJobs.delete(m.chunk);
        }
      });
      w.worker.on('error', (e) => this.fail(e));
      this.workers.push(w);
    }
  }

  /** Hands out piece after piece of `body`, each as soon as it is full (or the body ended). */
  async *pieces(body: Readable): AsyncGenerator<Buffer> {
    for await (const data of chunksOf(body)) yield* this.add(data);
    if (this.workers.length === 0) {
      // Nothing handed to workers: at most one piece, hashed here.
      const piece = this.filling ?? (await this.takePiece());
      const view = piece.buf.subarray(0, this.fill);
      this.inlineHex = this.algorithms.map((a) => crypto.createHash(a).update(view).digest('hex'));
      this.size = this.fill;
      piece.pending = 1;
      if (this.fill > 0) yield view;
      return;
    }
    const last = this.flush();
    if (last) yield last;
  }

  /** Copies `data` after the bytes added so far, handing out each piece it fills (once the workers have it). */
  async *add(data: Buffer): AsyncGenerator<Buffer> {
    for (let off = 0; off < data.length;) {
      this.filling ??= await this.takePiece();
      const n = data.copy(this.filling.buf, this.fill, off);
      off += n;
      this.fill += n;
      if (this.fill === CHUNK_SIZE) yield this.emit();
    }
  }

  /** Hands out the piece being filled, short, if it holds anything. */
  flush(): Buffer | undefined {
    return this.fill > 0 ? this.emit() : undefined;
  }

  /** `n` zero bytes after what was added and flushed: the workers hash them from zeros of their own. */
  zeros(n: number): void {
    if (this.fill > 0) throw new Error('internal: zeros() with a piece being filled');
    if (this.workers.length === 0) this.spawn();
    for (const w of this.workers) w.worker.postMessage({ zeros: n });
    this.size += n;
  }

  private emit(): Buffer {
    const p = this.filling!;
    const length = this.fill;
    this.filling = undefined;
    this.fill = 0;
    if (this.workers.length === 0) this.spawn();
    p.pending = this.workers.length + 1;
    const slot = this.bySlot.indexOf(p);
    const refBy = this.chunkRefs ? this.leastBusy() : undefined;
    for (const w of this.workers) {
      if (w === refBy) this.refs.set(slot, this.chunkJob(w, { sab: p.sab, length, slot }));
      else w.worker.postMessage({ sab: p.sab, length, slot });
    }
    this.size += length;
    return p.buf.subarray(0, length);
  }

  /** The worker with the fewest sha256 jobs waiting. */
  private leastBusy(): DigestWorker {
    let w = this.workers[0];
    for (const c of this.workers) if (c.chunkJobs.size < w.chunkJobs.size) w = c;
    return w;
  }

  /**
   * Sends `message` with a sha256 job: the worker hashes the piece (slice by slice, with its running hash over the
   * same slice when `slot` is set, while the slice is in its cache) and answers with the hex.
   */
  private chunkJob(w: DigestWorker, message: { sab: SharedArrayBuffer; length: number; slot?: number }): Promise<string> {
    const id = this.nextJob++;
    const job = new Promise<string>((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure);
      w.chunkJobs.set(id, { resolve, reject });
      w.worker.postMessage({ ...message, chunk: id });
    });
    job.catch(() => {}); // a piece found all zero is never asked for its ref; a failure reaches the consumer anyway
    return job;
  }

  /** sha256 (a chunk ref) of a piece, on the worker with the fewest sha256 jobs waiting, or here when there are no workers. */
  readonly hasher: ChunkHasher = {
    hash: async (data: Buffer): Promise<HashedChunk> => {
      const zeroMask = zeroMaskOf(data);
      const slot = this.bySlot.findIndex((q) => q.sab === data.buffer);
      if (this.workers.length === 0 || slot < 0) {
        return { ref: 'sha256:' + crypto.createHash('sha256').update(data).digest('hex'), zeroMask, data };
      }
      const started = this.refs.get(slot);
      this.refs.delete(slot);
      const hex = await (started ?? this.chunkJob(this.leastBusy(), { sab: data.buffer as SharedArrayBuffer, length: data.length }));
      return { ref: 'sha256:' + hex, zeroMask, data };
    },
    close: async () => {},
  };

  /** The byte count and digests, in the order of `algorithms`, once every piece has been handed out. */
  async finish(): Promise<{ size: number; hex: string[] }> {
    if (this.inlineHex) return { size: this.size, hex: this.inlineHex };
    if (this.workers.length === 0) return { size: 0, hex: this.algorithms.map((a) => crypto.createHash(a).digest('hex')) };
    const hex = await Promise.all(this.workers.map(({ worker }) => new Promise<string>((resolve, reject) => {
      worker.on('message', (m: { hex?: string }) => { if (m.hex !== undefined) resolve(m.hex); });
      worker.once('error', reject);
      worker.postMessage({ end: true });
    })));
    if (this.failure !== undefined) throw this.failure;
    return { size: this.size, hex };
  }

  /** Stops the workers; the pieces go back to the pool only when nothing can still be using them (`settled`). */
  async close(settled: boolean): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    if (settled) for (const p of this.bySlot) this.buffers.release(p.buf);
  }
}

/**
 * Writes `body` to the new file `dest` (exclusive create) while computing `algorithms` over it, and fsyncs it; returns
 * the byte count and hex digests. Full pieces go to the disk with O_DIRECT straight from the shared memory the workers
 * hash, so the bytes are copied once, from the socket into the piece.
 */
export async function writeAndDigest(body: Readable, dest: string, algorithms: readonly string[], buffers: ChunkBufferPool): Promise<{ size: number; hex: string[] }> {
  const file = await FileWriter.create(dest, { exclusive: true, staging: buffers });
  const digests = new PieceDigests(algorithms, 4, buffers);
  let settled = false;
  try {
    let offset = 0;
    for await (const piece of digests.pieces(body)) {
      file.writeFrom(piece, offset).then(() => digests.release(piece), (e) => digests.fail(e));
      offset += piece.length;
    }
    await file.finish();
    const out = await digests.finish();
    settled = true;
    return out;
  } finally {
    await file.close();
    await digests.close(settled);
  }
}

/**
 * writeAndDigest for a sparse body (formats/sparse-body.ts): `dest` keeps its holes, and the digests cover them as
 * zeros, hashed by the workers without crossing the network or the event loop.
 */
export async function writeSparseAndDigest(body: Readable, dest: string, algorithms: readonly string[], buffers: ChunkBufferPool): Promise<{ size: number; hex: string[] }> {
  const digests = new PieceDigests(algorithms, 4, buffers);
  let file: FileWriter | undefined;
  let settled = false;
  let size = 0;
  /** Where the next piece handed out goes in the file. */
  let position = 0;
  const write = (piece: Buffer) => {
    file!.writeFrom(piece, position).then(() => digests.release(piece), (e) => digests.fail(e));
    position += piece.length;
  };
  const zerosTo = (end: number) => {
    const last = digests.flush();
    if (last) write(last);
    if (end > position) digests.zeros(end - position);
    position = end;
  };
  try {
    for await (const part of decodeSparse(chunksOf(body))) {
      if ('size' in part) {
        file = await FileWriter.create(dest, { size: (size = part.size), staging: buffers, exclusive: true });
        continue;
      }
      if (part.offset > position + digests.filled) zerosTo(part.offset);
      for await (const piece of digests.add(part.data)) write(piece);
    }
    zerosTo(size);
    await file!.finish();
    const out = await digests.finish();
    settled = true;
    return out;
  } finally {
    await file?.close();
    await digests.close(settled);
  }
}

/**
 * Stores `body` in the chunk store as it arrives (4 MiB chunks, sha256 on the digest workers, put and made
 * durable as the importer does) while computing `algorithms` over it. Returns the bytes' flat manifest, not
 * committed: its chunks are live, kept by the GC grace period until the caller commits it.
 */
export async function storeAndDigest(
  body: Readable,
  deps: Omit<ImportDeps, 'hashPool'>,
  algorithms: readonly string[],
  opts: { buffers: ChunkBufferPool; signal?: AbortSignal },
): Promise<{ manifest: Manifest; hex: string[] }> {
  const inFlight = 8;
  const digests = new PieceDigests(algorithms, inFlight, opts.buffers, true);
  let settled = false;
  try {
    const stored = new Map<number, ChunkEntry>();
    async function* chunks() {
      let index = 0;
      for await (const data of digests.pieces(body)) yield { index: index++, data };
    }
    await storeChunks(chunks(), undefined, (i, e) => { if (e) stored.set(i, e); }, { ...deps, hashPool: digests.hasher }, {
      buffers: digests, signal: opts.signal, maxInFlight: inFlight,
    });
    const { size, hex } = await digests.finish();
    settled = true;
    return { manifest: patchManifest(zeroManifest(size), stored), hex };
  } catch (e) {
    digests.fail(e);
    throw e;
  } finally {
    await digests.close(settled);
  }
}
