/**
 * Disks exported over NBD (the protocol lives in api/nbd). An export name is `<diskId>.<expiry>.<mac>`:
 * an HMAC, keyed from the master key, over the disk, its owner and the expiry (epoch seconds), issued to the
 * disk's owner by an authenticated call (`POST /disks/:diskId/nbd-token`) or by the service itself for the
 * VMs it runs. The token is checked when the export is opened; an open export lives until it is closed.
 *
 * An open export reads the disk's current manifest (re-checked before every request, held while in use,
 * so a concurrent writer cannot free it) and writes through the same copy-on-write path as the HTTP content
 * endpoint (`writeDisk`, `zeroDisk`): every acknowledged write is committed and durable.
 */
import { holdForRead, type ReadHold } from '../../blobs/read-holds.ts';
import crypto from 'node:crypto';
import type { DiskRow } from '../../store/schema.ts';
import type { ChunkRef, ChunkStore, Manifest } from '../../blobs/types.ts';
import { manifestEntry } from '../../blobs/manifests.ts';
import { CHUNK_SIZE, ZERO_BLOCK_SIZE, chunkLength, hexToMask, isZeroBlock } from '../../domain/disk.ts';
import { apiError } from '../../domain/errors.ts';
import { NBD_TOKEN_DEFAULT_TTL_S, NBD_TOKEN_MAX_TTL_S } from '../../domain/nbd.ts';
import type { Services } from '../context.ts';
import { requireOwnDisk } from './disks.ts';
import { diskBytes, writeDisk, zeroDisk } from './disk-content.ts';
import { sameSecret } from '../../domain/secrets.ts';

/** The token key, derived from the master key so that every process of one deployment agrees on it. */
export function nbdTokenKey(masterKey: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', masterKey, Buffer.alloc(0), 'imagehouse nbd export tokens', 32));
}

function mac(key: Buffer, diskId: string, ownerId: string, expires: number): string {
  return crypto.createHmac('sha256', key).update(`${diskId}\n${ownerId}\n${expires}`).digest('base64url');
}

export interface NbdToken {
  diskId: string;
  exportName: string;
  /** Epoch ms. */
  expiresAt: number;
  /** nbd://127.0.0.1:<port>/<exportName>, when the listener runs. */
  uri?: string;
}

function tokenFor(services: Pick<Services, 'nbd' | 'clock'>, disk: Pick<DiskRow, 'id' | 'owner_id'>, ttlSeconds: number): NbdToken {
  const expires = Math.floor(services.clock.now() / 1000) + ttlSeconds;
  const exportName = `${disk.id}.${expires}.${mac(services.nbd.tokenKey, disk.id, disk.owner_id, expires)}`;
  const port = services.nbd.port();
  return { diskId: disk.id, exportName, expiresAt: expires * 1000, ...(port ? { uri: `nbd://127.0.0.1:${port}/${exportName}` } : {}) };
}

/** A token for the caller's own disk, valid for `ttlSeconds` (default 5 minutes, at most an hour). */
export async function issueNbdToken(services: Services, accountId: string, diskId: string, ttlSeconds = NBD_TOKEN_DEFAULT_TTL_S): Promise<NbdToken> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > NBD_TOKEN_MAX_TTL_S) throw apiError('InvalidParameter', 'TtlSeconds');
  const disk = await requireOwnDisk(services, diskId, accountId);
  return tokenFor(services, disk, ttlSeconds);
}

/** The service's own token for a disk it attaches to a VM it runs (the VM opens the export at once). */
export function internalNbdToken(services: Pick<Services, 'nbd' | 'clock'>, disk: Pick<DiskRow, 'id' | 'owner_id'>): NbdToken {
  return tokenFor(services, disk, NBD_TOKEN_DEFAULT_TTL_S);
}

/** The disk an export name opens, or undefined for a malformed, forged or expired name or a gone disk. */
async function diskOfExport(services: Services, name: string): Promise<DiskRow | undefined> {
  const m = /^([a-z]-[0-9a-z]{1,60})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(name);
  if (!m) return undefined;
  const [, diskId, exp, given] = m;
  const expires = Number(exp);
  if (expires * 1000 <= services.clock.now()) return undefined;
  const disk = await services.db.selectFrom('disks').selectAll().where('id', '=', diskId).executeTakeFirst();
  if (!disk) return undefined;
  return sameSecret(mac(services.nbd.tokenKey, disk.id, disk.owner_id, expires), given) ? disk : undefined;
}

/** A run of the disk: bytes, or a hole that reads as zeros. */
export interface Extent {
  offset: number;
  length: number;
  /** null: all zero. */
  data: Buffer | null;
}

export interface Run {
  offset: number;
  length: number;
  zero: boolean;
  /** The chunk a data run lies in. */
  chunk: number;
}

/**
 * Zero/data runs at 64 KiB granularity from the manifest's zero maps (a part of the disk past the manifest's
 * end, after a resize, reads as zeros). Data runs stay within one chunk, so that each is one slice of it.
 */
function runsOf(manifest: Manifest, offset: number, length: number): Run[] {
  const out: Run[] = [];
  const end = offset + length;
  for (let i = Math.floor(offset / CHUNK_SIZE); i * CHUNK_SIZE < end; i++) {
    const base = i * CHUNK_SIZE;
    const entry = manifestEntry(manifest, i);
    const mask = entry ? hexToMask(entry.zeroMap) : null;
    const to = Math.min(end, base + CHUNK_SIZE);
    for (let at = Math.max(offset, base); at < to;) {
      const block = Math.floor((at - base) / ZERO_BLOCK_SIZE);
      const next = Math.min(to, base + (block + 1) * ZERO_BLOCK_SIZE);
      const zero = isZeroBlock(mask, block);
      const last = out[out.length - 1];
      if (last && last.zero === zero && (zero || last.chunk === i)) last.length += next - at;
      else out.push({ offset: at, length: next - at, zero, chunk: i });
      at = next;
    }
  }
  return out;
}

const CACHED_CHUNKS = 8;

export class DiskExport {
  private held: { hold: ReadHold; manifest: Manifest } | undefined;
  /** Chunks are immutable (content-addressed), so a few recently read ones are kept per export. */
  private readonly cache = new Map<ChunkRef, Buffer>();
  private closed = false;

  private constructor(private readonly services: Services, readonly disk: DiskRow, private readonly store: ChunkStore) {}

  static async open(services: Services, name: string): Promise<DiskExport | undefined> {
    const disk = await diskOfExport(services, name);
    return disk ? new DiskExport(services, disk, services.dataPlane.store(disk.region)) : undefined;
  }

  get size(): number {
    return diskBytes(this.disk);
  }

  /** The disk's current manifest, held until the next one replaces it or the export closes. */
  private async current(): Promise<Manifest> {
    const repo = this.services.dataPlane.manifests;
    for (let attempt = 0; ; attempt++) {
      const row = await this.services.db.selectFrom('disks').select('manifest_id').where('id', '=', this.disk.id).executeTakeFirst();
      if (!row) throw apiError('InvalidDiskId.NotFound');
      if (this.held?.hold.manifestId === row.manifest_id) return this.held.manifest;
      const hold = await holdForRead(this.services.db, row.manifest_id, () => this.services.clock.now());
      if (hold) {
        const loaded = await repo.load(row.manifest_id);
        if (!loaded) throw new Error(`manifest ${row.manifest_id} vanished while held`);
        const previous = this.held;
        this.held = { hold, manifest: loaded.manifest };
        if (previous) await previous.hold.release();
        return loaded.manifest;
      }
      // Swapped and released since the row was read.
      if (attempt >= 200) throw apiError('Operation.Conflict');
    }
  }

  private async chunk(ref: ChunkRef, manifest: Manifest, index: number): Promise<Buffer> {
    const hit = this.cache.get(ref);
    if (hit) {
      this.cache.delete(ref);
      this.cache.set(ref, hit);
      return hit;
    }
    const data = await this.store.get(ref);
    if (data.length !== chunkLength(manifest.virtualSize, index)) throw new Error(`chunk ${index} of disk ${this.disk.id} has ${data.length} bytes`);
    this.cache.set(ref, data);
    if (this.cache.size > CACHED_CHUNKS) this.cache.delete(this.cache.keys().next().value!);
    return data;
  }

  private assertRange(offset: number, length: number): void {
    if (this.closed) throw new Error('export closed');
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > this.size) {
      throw apiError('InvalidParameter', 'offset');
    }
  }

  /** Zero/data runs of [offset, offset + length), from the manifest alone (no chunk is read). */
  async map(offset: number, length: number): Promise<Run[]> {
    this.assertRange(offset, length);
    return runsOf(await this.current(), offset, length);
  }

  /** The bytes of [offset, offset + length) as data extents and holes, in order. */
  async read(offset: number, length: number): Promise<Extent[]> {
    this.assertRange(offset, length);
    const manifest = await this.current();
    const out: Extent[] = [];
    for (const r of runsOf(manifest, offset, length)) {
      if (r.zero) {
        out.push({ offset: r.offset, length: r.length, data: null });
        continue;
      }
      const data = await this.chunk(manifestEntry(manifest, r.chunk)!.ref, manifest, r.chunk);
      const at = r.offset - r.chunk * CHUNK_SIZE;
      out.push({ offset: r.offset, length: r.length, data: data.subarray(at, at + r.length) });
    }
    return out;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.assertRange(offset, data.length);
    await writeDisk(this.services, this.disk, offset, data);
  }

  /** WRITE_ZEROES and TRIM: the range reads as zeros afterwards, and whole chunks free their storage. */
  async zero(offset: number, length: number): Promise<void> {
    this.assertRange(offset, length);
    await zeroDisk(this.services, this.disk, offset, length);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    const held = this.held;
    this.held = undefined;
    if (held) await held.hold.release();
  }
}
