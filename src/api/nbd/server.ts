/**
 * The NBD surface: a fixed-newstyle NBD server on 127.0.0.1, one export per disk, opened by an export name
 * that carries a short-lived token (services/compute/nbd-exports.ts). Options: EXPORT_NAME, GO, INFO, LIST
 * (answers no exports: names are secrets), ABORT, STRUCTURED_REPLY, LIST/SET_META_CONTEXT (base:allocation).
 * Commands: READ (structured replies send holes as OFFSET_HOLE), WRITE, FLUSH, TRIM, WRITE_ZEROES,
 * BLOCK_STATUS, DISC. Requests of one connection run in order; every acknowledged write is committed, so
 * FLUSH and FUA have nothing left to do. This surface renders its errors as NBD errnos.
 */
import net from 'node:net';
import type { Services } from '../../services/context.ts';
import { DiskExport } from '../../services/compute/nbd-exports.ts';
import { ApiError } from '../../domain/errors.ts';
import { NBD_HANDSHAKE_TIMEOUT_MS, NBD_MAX_CONNECTIONS, NBD_MAX_PAYLOAD } from '../../domain/nbd.ts';
import {
  ALLOCATION_CONTEXT_ID, BASE_ALLOCATION, CMD, CMD_FLAG, ERRNO, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, IHAVEOPT, INFO, NBDMAGIC,
  OPT, OPT_REPLY_MAGIC, REP, REPLY_FLAG_DONE, REPLY_TYPE, REQUEST_MAGIC, SIMPLE_REPLY_MAGIC, STATE_HOLE, STATE_ZERO,
  STRUCTURED_REPLY_MAGIC, TFLAG,
} from './protocol.ts';

export interface NbdLog {
  warn(obj: object, msg: string): void;
}

export interface NbdServer {
  /** Listens on 127.0.0.1 (port 0 = any); returns the port. */
  listen(port: number): Promise<number>;
  port(): number | undefined;
  close(): Promise<void>;
}

const TRANSMISSION_FLAGS = TFLAG.HAS_FLAGS | TFLAG.SEND_FLUSH | TFLAG.SEND_FUA | TFLAG.SEND_TRIM | TFLAG.SEND_WRITE_ZEROES | TFLAG.SEND_FAST_ZERO;
const MAX_OPTION_LENGTH = 64 * 1024;

class Closed extends Error {}

/** Reads exact byte counts from a socket, pausing it while too much is buffered. */
class SocketReader {
  private parts: Buffer[] = [];
  private buffered = 0;
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.parts.push(d);
      this.buffered += d.length;
      if (this.buffered > 2 * NBD_MAX_PAYLOAD) socket.pause();
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.ended) throw new Closed();
      this.socket.resume();
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** An errno for a failed request: a range outside the disk is EINVAL (ENOSPC for writes), anything else EIO. */
function errnoOf(err: unknown, write: boolean): number {
  if (err instanceof ApiError && err.code === 'InvalidParameter') return write ? ERRNO.ENOSPC : ERRNO.EINVAL;
  return ERRNO.EIO;
}

class Connection {
  private readonly reader: SocketReader;
  private structured = false;
  private allocationContext = false;
  private noZeroes = false;
  private disk: DiskExport | undefined;

  constructor(private readonly socket: net.Socket, private readonly services: Services, private readonly log: NbdLog) {
    this.reader = new SocketReader(socket);
  }

  private async send(...parts: Buffer[]): Promise<void> {
    if (this.socket.destroyed) throw new Closed();
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          this.socket.off('close', fail);
          resolve();
        };
        const fail = () => {
          this.socket.off('drain', done);
          reject(new Closed());
        };
        this.socket.once('drain', done);
        this.socket.once('close', fail);
      });
    }
  }

  private optReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Promise<void> {
    return this.send(Buffer.concat([u64(OPT_REPLY_MAGIC), u32(option), u32(type >>> 0), u32(data.length)]), data);
  }

  private optError(option: number, type: number, message: string): Promise<void> {
    return this.optReply(option, type, Buffer.from(message));
  }

  async run(): Promise<void> {
    const timer = setTimeout(() => this.socket.destroy(), NBD_HANDSHAKE_TIMEOUT_MS);
    try {
      const disk = await this.handshake();
      clearTimeout(timer);
      if (disk) await this.transmit(disk);
    } catch (e) {
      if (!(e instanceof Closed)) this.log.warn({ err: e }, 'nbd connection failed');
    } finally {
      clearTimeout(timer);
      this.socket.destroy();
      await this.disk?.close().catch((e) => this.log.warn({ err: e }, 'nbd export close failed'));
    }
  }

  /** The fixed-newstyle option haggling; returns the export chosen by GO or EXPORT_NAME, or undefined. */
  private async handshake(): Promise<DiskExport | undefined> {
    await this.send(u64(NBDMAGIC), u64(IHAVEOPT), u16(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
    const clientFlags = (await this.reader.read(4)).readUInt32BE();
    if (!(clientFlags & FLAG_FIXED_NEWSTYLE)) return undefined;
    this.noZeroes = (clientFlags & FLAG_NO_ZEROES) !== 0;
    for (;;) {
      const head = await this.reader.read(16);
      if (head.readBigUInt64BE(0) !== IHAVEOPT) return undefined;
      const option = head.readUInt32BE(8);
      const length = head.readUInt32BE(12);
      if (length > MAX_OPTION_LENGTH) {
        // Too long to be meant: drop it unread and end the connection.
        await this.optError(option, REP.ERR_TOO_BIG, 'option too long');
        return undefined;
      }
      const data = await this.reader.read(length);
      switch (option) {
        case OPT.EXPORT_NAME: {
          const disk = await DiskExport.open(this.services, data.toString('utf8'));
          if (!disk) return undefined; // this option has no error reply: the connection just ends
          this.disk = disk;
          await this.send(u64(disk.size), u16(TRANSMISSION_FLAGS), ...(this.noZeroes ? [] : [Buffer.alloc(124)]));
          return disk;
        }
        case OPT.INFO:
        case OPT.GO: {
          const disk = await this.infoOrGo(option, data);
          if (disk && option === OPT.GO) return disk;
          break;
        }
        case OPT.LIST:
          if (length) await this.optError(option, REP.ERR_INVALID, 'LIST takes no data');
          else await this.optReply(option, REP.ACK); // export names carry tokens: none is advertised
          break;
        case OPT.ABORT:
          await this.optReply(option, REP.ACK).catch(() => {});
          return undefined;
        case OPT.STRUCTURED_REPLY:
          if (length) {
            await this.optError(option, REP.ERR_INVALID, 'STRUCTURED_REPLY takes no data');
          } else {
            this.structured = true;
            await this.optReply(option, REP.ACK);
          }
          break;
        case OPT.LIST_META_CONTEXT:
        case OPT.SET_META_CONTEXT:
          await this.metaContext(option, data);
          break;
        case OPT.STARTTLS:
          await this.optError(option, REP.ERR_POLICY, 'TLS is not offered: the server listens on 127.0.0.1 only');
          break;
        default:
          await this.optError(option, REP.ERR_UNSUP, `option ${option} is not supported`);
      }
    }
  }

  private async infoOrGo(option: number, data: Buffer): Promise<DiskExport | undefined> {
    const nameLength = data.length >= 4 ? data.readUInt32BE(0) : -1;
    if (nameLength < 0 || data.length < 4 + nameLength + 2 || data.length !== 4 + nameLength + 2 + 2 * data.readUInt16BE(4 + nameLength)) {
      await this.optError(option, REP.ERR_INVALID, 'malformed request');
      return undefined;
    }
    const name = data.subarray(4, 4 + nameLength).toString('utf8');
    const disk = await DiskExport.open(this.services, name);
    if (!disk) {
      await this.optError(option, REP.ERR_UNKNOWN, 'no such export, or its token is not valid (it may have expired)');
      return undefined;
    }
    try {
      await this.optReply(option, REP.INFO, Buffer.concat([u16(INFO.EXPORT), u64(disk.size), u16(TRANSMISSION_FLAGS)]));
      await this.optReply(option, REP.INFO, Buffer.concat([u16(INFO.BLOCK_SIZE), u32(1), u32(4096), u32(NBD_MAX_PAYLOAD)]));
      await this.optReply(option, REP.ACK);
    } catch (e) {
      await disk.close();
      throw e;
    }
    if (option === OPT.INFO) {
      await disk.close();
      return undefined;
    }
    this.disk = disk;
    return disk;
  }

  /** base:allocation is the one context; it is set for whatever export GO then opens. */
  private async metaContext(option: number, data: Buffer): Promise<void> {
    if (!this.structured) return this.optError(option, REP.ERR_INVALID, 'negotiate structured replies first');
    let at = 0;
    const need = (n: number) => {
      if (at + n > data.length) throw new RangeError('short');
    };
    const queries: string[] = [];
    try {
      need(4);
      const nameLength = data.readUInt32BE(at);
      at += 4 + nameLength;
      need(4);
      const count = data.readUInt32BE(at);
      at += 4;
      for (let i = 0; i < count; i++) {
        need(4);
        const l = data.readUInt32BE(at);
        at += 4;
        need(l);
        queries.push(data.subarray(at, at + l).toString('utf8'));
        at += l;
      }
      if (at !== data.length) throw new RangeError('long');
    } catch {
      return this.optError(option, REP.ERR_INVALID, 'malformed request');
    }
    const listAll = option === OPT.LIST_META_CONTEXT && queries.length === 0;
    const match = listAll || queries.some((q) => q === BASE_ALLOCATION || (option === OPT.LIST_META_CONTEXT && q === 'base:'));
    if (option === OPT.SET_META_CONTEXT) this.allocationContext = match;
    if (match) await this.optReply(option, REP.META_CONTEXT, Buffer.concat([u32(ALLOCATION_CONTEXT_ID), Buffer.from(BASE_ALLOCATION)]));
    await this.optReply(option, REP.ACK);
  }

  private simpleReply(cookie: Buffer, error: number, data?: Buffer): Promise<void> {
    return this.send(Buffer.concat([u32(SIMPLE_REPLY_MAGIC), u32(error), cookie]), ...(data ? [data] : []));
  }

  private chunkHeader(cookie: Buffer, flags: number, type: number, length: number): Buffer {
    return Buffer.concat([u32(STRUCTURED_REPLY_MAGIC), u16(flags), u16(type), cookie, u32(length)]);
  }

  private async errorReply(cookie: Buffer, errno: number): Promise<void> {
    if (!this.structured) return this.simpleReply(cookie, errno);
    const msg = Buffer.from('request failed');
    await this.send(this.chunkHeader(cookie, REPLY_FLAG_DONE, REPLY_TYPE.ERROR, 6 + msg.length), u32(errno), u16(msg.length), msg);
  }

  private async transmit(disk: DiskExport): Promise<void> {
    for (;;) {
      const head = await this.reader.read(28);
      if (head.readUInt32BE(0) !== REQUEST_MAGIC) return;
      const flags = head.readUInt16BE(4);
      const type = head.readUInt16BE(6);
      const cookie = Buffer.from(head.subarray(8, 16));
      const offset = Number(head.readBigUInt64BE(16));
      const length = head.readUInt32BE(24);
      if (type === CMD.WRITE && length > NBD_MAX_PAYLOAD) return; // more than the advertised maximum: a broken client
      const payload = type === CMD.WRITE ? await this.reader.read(length) : undefined;
      try {
        switch (type) {
          case CMD.DISC:
            return;
          case CMD.READ:
            if (length === 0 || length > NBD_MAX_PAYLOAD) {
              await this.errorReply(cookie, ERRNO.EINVAL);
              break;
            }
            await this.read(disk, cookie, offset, length);
            break;
          case CMD.WRITE:
            await disk.write(offset, payload!);
            await this.simpleReply(cookie, 0);
            break;
          case CMD.FLUSH:
            // Every acknowledged write is already committed and durable.
            await this.simpleReply(cookie, 0);
            break;
          case CMD.TRIM:
          case CMD.WRITE_ZEROES:
            await disk.zero(offset, length);
            await this.simpleReply(cookie, 0);
            break;
          case CMD.BLOCK_STATUS:
            if (!this.allocationContext || length === 0) await this.errorReply(cookie, ERRNO.EINVAL);
            else await this.blockStatus(disk, cookie, offset, length, (flags & CMD_FLAG.REQ_ONE) !== 0);
            break;
          default:
            await this.errorReply(cookie, ERRNO.EINVAL);
        }
      } catch (e) {
        if (e instanceof Closed) throw e;
        const write = type === CMD.WRITE || type === CMD.TRIM || type === CMD.WRITE_ZEROES;
        const errno = errnoOf(e, write);
        if (errno === ERRNO.EIO) this.log.warn({ err: e, disk: disk.disk.id, type, offset, length }, 'nbd request failed');
        await this.errorReply(cookie, errno);
      }
    }
  }

  private async read(disk: DiskExport, cookie: Buffer, offset: number, length: number): Promise<void> {
    const extents = await disk.read(offset, length);
    if (!this.structured) {
      await this.simpleReply(cookie, 0);
      for (const e of extents) await this.send(e.data ?? Buffer.alloc(e.length));
      return;
    }
    for (let i = 0; i < extents.length; i++) {
      const e = extents[i];
      const flags = i === extents.length - 1 ? REPLY_FLAG_DONE : 0;
      if (e.data) await this.send(this.chunkHeader(cookie, flags, REPLY_TYPE.OFFSET_DATA, 8 + e.length), u64(e.offset), e.data);
      else await this.send(this.chunkHeader(cookie, flags, REPLY_TYPE.OFFSET_HOLE, 12), u64(e.offset), u32(e.length));
    }
  }

  private async blockStatus(disk: DiskExport, cookie: Buffer, offset: number, length: number, one: boolean): Promise<void> {
    const end = Math.min(offset + length, disk.size);
    if (offset >= end) return this.errorReply(cookie, ERRNO.EINVAL);
    const runs = await disk.map(offset, end - offset);
    // Adjacent data runs from different chunks are one extent to the client.
    const merged: { length: number; zero: boolean }[] = [];
    for (const r of runs) {
      const last = merged[merged.length - 1];
      if (last && last.zero === r.zero) last.length += r.length;
      else merged.push({ length: r.length, zero: r.zero });
    }
    const descriptors = (one ? merged.slice(0, 1) : merged).map((r) => Buffer.concat([u32(r.length), u32(r.zero ? STATE_HOLE | STATE_ZERO : 0)]));
    const body = Buffer.concat([u32(ALLOCATION_CONTEXT_ID), ...descriptors]);
    await this.send(this.chunkHeader(cookie, REPLY_FLAG_DONE, REPLY_TYPE.BLOCK_STATUS, body.length), body);
  }
}

export function createNbdServer(services: Services, log: NbdLog): NbdServer {
  const sockets = new Set<net.Socket>();
  const runs = new Set<Promise<void>>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (sockets.size >= NBD_MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('error', () => {});
    const run = new Connection(socket, services, log).run().finally(() => {
      sockets.delete(socket);
      runs.delete(run);
    });
    runs.add(run);
  });
  let port: number | undefined;
  return {
    listen: (wanted) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as net.AddressInfo).port;
        resolve(port);
      });
    }),
    port: () => port,
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await Promise.all(runs);
      await closed;
      port = undefined;
    },
  };
}
