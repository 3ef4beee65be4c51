/** Calls to the transfer data endpoints (buckets, objects, direct import), shared by the CLI commands. */
import fs from 'node:fs';
import { ApiCallError, dataRequest, type ClientConfig } from '../../api.ts';
import { ACCEPT_SPARSE, encodeSparse, saveDownload } from '../../sparse-file.ts';
import { holeyFileExtents } from '../../../formats/data-extents.ts';
import { SPARSE_CONTENT_TYPE } from '../../../formats/sparse-body.ts';

export interface BucketInfo {
  Name: string;
  RegionId: string;
  CreationTime: string;
}

export interface ObjectEntry {
  Key: string;
  Size: number;
  LastModified: string;
}

/** Reads `file`, reporting bytes as they are sent. */
async function* fileBody(file: string, onBytes?: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    onBytes?.((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

export async function createBucket(cfg: ClientConfig, name: string): Promise<BucketInfo> {
  const res = await dataRequest(cfg, 'PUT', `/buckets/${encodeURIComponent(name)}`, { RegionId: cfg.region });
  return ((await res.json()) as { Bucket: BucketInfo }).Bucket;
}

export async function listBuckets(cfg: ClientConfig, region?: string): Promise<BucketInfo[]> {
  const res = await dataRequest(cfg, 'GET', '/buckets', region ? { RegionId: region } : {});
  return ((await res.json()) as { Buckets: { Bucket: BucketInfo[] } }).Buckets.Bucket;
}

/** An upload of `file`: a file with holes goes as a sparse body (formats/sparse-body.ts), its data only. */
async function uploadOf(file: string, onBytes?: (n: number) => void): Promise<{ body: AsyncIterable<Uint8Array>; headers: Record<string, string> }> {
  const fh = await fs.promises.open(file, 'r');
  const extents = await holeyFileExtents(fh).finally(() => fh.close());
  const size = fs.statSync(file).size;
  if (extents !== undefined && extents.reduce((n, [a, b]) => n + b - a, 0) < size) {
    return { body: encodeSparse(file, extents, onBytes), headers: { 'content-type': SPARSE_CONTENT_TYPE } };
  }
  return { body: fileBody(file, onBytes), headers: { 'content-type': 'application/octet-stream' } };
}

/** Uploads `file` as the object; the object keeps the file's holes. */
export async function putObject(cfg: ClientConfig, bucket: string, key: string, file: string, onBytes?: (n: number) => void): Promise<{ Size: number }> {
  const res = await dataRequest(cfg, 'PUT', `/buckets/${encodeURIComponent(bucket)}/object`, { Key: key }, await uploadOf(file, onBytes));
  return (await res.json()) as { Size: number };
}

/** Downloads the object into `file` (written to a temp name, then renamed), keeping zero runs as holes. */
export async function getObject(cfg: ClientConfig, bucket: string, key: string, file: string): Promise<number> {
  const res = await dataRequest(cfg, 'GET', `/buckets/${encodeURIComponent(bucket)}/object`, { Key: key }, { headers: ACCEPT_SPARSE });
  if (!res.body) throw new ApiCallError('InternalError', 'empty response', res.status, '');
  const tmp = `${file}.part`;
  let size = 0;
  try {
    size = await saveDownload(res, tmp);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return size;
}

export async function listObjects(cfg: ClientConfig, bucket: string, opts: { prefix?: string; startAfter?: string } = {}): Promise<{ objects: ObjectEntry[]; truncated: boolean }> {
  const q: Record<string, string> = {};
  if (opts.prefix) q.Prefix = opts.prefix;
  if (opts.startAfter) q.StartAfter = opts.startAfter;
  const res = await dataRequest(cfg, 'GET', `/buckets/${encodeURIComponent(bucket)}/objects`, q);
  const body = (await res.json()) as { IsTruncated: boolean; Objects: { Object: ObjectEntry[] } };
  return { objects: body.Objects.Object, truncated: body.IsTruncated };
}

/** Every object of the bucket (following pages). */
export async function listAllObjects(cfg: ClientConfig, bucket: string, prefix?: string): Promise<ObjectEntry[]> {
  const all: ObjectEntry[] = [];
  for (;;) {
    const { objects, truncated } = await listObjects(cfg, bucket, { prefix, startAfter: all[all.length - 1]?.Key });
    all.push(...objects);
    if (!truncated || objects.length === 0) return all;
  }
}

export interface DirectImportResult {
  ImageId: string;
  TaskId: string;
  RegionId: string;
  Size: number;
  Sha256: string;
}

/** Streams a disk file to `POST /images/import` (its data only when it has holes); `params` are ImageName, Format, Platform, ... */
export async function importFile(cfg: ClientConfig, file: string, params: Record<string, string | undefined>, onBytes?: (n: number) => void): Promise<DirectImportResult> {
  const q: Record<string, string> = { RegionId: cfg.region };
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q[k] = v;
  const res = await dataRequest(cfg, 'POST', '/images/import', q, await uploadOf(file, onBytes));
  return (await res.json()) as DirectImportResult;
}
