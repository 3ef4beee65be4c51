/** Shared by the transfer e2e tests: disk fixtures made with qemu-img, bucket calls, and waiting on the SDK. */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ClientConfig } from '../../src/cli/api.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { Ecs } from '../support/sdk.ts';
import { waitFor } from '../support/wait.ts';

export const MiB = 1024 * 1024;
export const REGION = 'cn-hangzhou';

export function clientConfig(endpoint: string, account: Pick<NewAccount, 'accessKeyId' | 'accessKeySecret'>, region = REGION): ClientConfig {
  return { endpoint, region, accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
}

export interface DiskFixture {
  /** The disk file in `format`. */
  file: string;
  /** The same guest bytes as a raw file: the oracle for qemu-img compare. */
  raw: string;
  format: string;
  virtualSize: number;
}

/**
 * A disk of `virtualMiB` with `dataMiB` of random data spread over a few extents, as `format`
 * (qemu-img names: qcow2, vpc, vmdk, vhdx, raw). `preallocate` makes every qcow2 cluster allocated, so the
 * importer reads the whole virtual size (slow enough to interrupt) while the file stays small and sparse.
 */
export function makeDisk(dir: string, name: string, opts: { virtualMiB: number; dataMiB: number; format: string; preallocate?: boolean }): DiskFixture {
  const raw = path.join(dir, `${name}.raw`);
  const fd = fs.openSync(raw, 'w');
  try {
    fs.ftruncateSync(fd, opts.virtualMiB * MiB);
    const pieces = 4;
    const piece = Math.floor((opts.dataMiB * MiB) / pieces);
    const stride = Math.floor((opts.virtualMiB * MiB) / pieces);
    for (let i = 0; i < pieces; i++) fs.writeSync(fd, randomFillSync(Buffer.alloc(piece)), 0, piece, i * stride + (i % 2) * 4096);
  } finally {
    fs.closeSync(fd);
  }
  if (opts.format === 'raw') return { file: raw, raw, format: 'raw', virtualSize: opts.virtualMiB * MiB };
  const ext = opts.format === 'vpc' ? 'vhd' : opts.format;
  const file = path.join(dir, `${name}.${ext}`);
  const o = [opts.format === 'vpc' ? 'subformat=dynamic,force_size=on' : '', opts.preallocate ? 'preallocation=metadata' : ''].filter(Boolean).join(',');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', opts.format, ...(o ? ['-o', o] : []), raw, file]);
  return { file, raw, format: opts.format, virtualSize: opts.virtualMiB * MiB };
}

function virtualSize(file: string, format: string): number {
  return JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', format, file], { encoding: 'utf8' }))['virtual-size'];
}

/** True when the two images have the same virtual size and hold the same guest bytes (qemu-img compare). */
export function sameContent(a: string, aFormat: string, b: string, bFormat: string): boolean {
  if (virtualSize(a, aFormat) !== virtualSize(b, bFormat)) return false;
  try {
    execFileSync('qemu-img', ['compare', '-f', aFormat, '-F', bFormat, a, b], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

export async function describeImage(client: any, imageId: string, region = REGION): Promise<any> {
  const res = await client.describeImages(new Ecs.DescribeImagesRequest({ regionId: region, imageId, status: 'Waiting,Creating,Available,CreateFailed,UnAvailable,Deprecated' }));
  return res.body.images.image[0];
}

/** Waits until the image leaves Waiting/Creating and returns it. */
export async function settledImage(client: any, imageId: string, region = REGION, timeoutMs = 60_000): Promise<any> {
  return waitFor(async () => {
    const image = await describeImage(client, imageId, region);
    return image && image.status !== 'Waiting' && image.status !== 'Creating' ? image : undefined;
  }, { what: `image ${imageId}`, timeoutMs });
}

export async function taskAttribute(client: any, taskId: string, region = REGION): Promise<any> {
  return (await client.describeTaskAttribute(new Ecs.DescribeTaskAttributeRequest({ regionId: region, taskId }))).body;
}

/** Waits until the task is no longer Processing and returns its attributes. */
export async function settledTask(client: any, taskId: string, region = REGION): Promise<any> {
  return waitFor(async () => {
    const t = await taskAttribute(client, taskId, region);
    return t.taskStatus !== 'Processing' ? t : undefined;
  }, { what: `task ${taskId}` });
}

export function importRequest(bucket: string, disks: { object: string; format?: string; size?: number }[], extra: Record<string, unknown> = {}) {
  return new Ecs.ImportImageRequest({
    regionId: REGION,
    diskDeviceMapping: disks.map((d) => new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: bucket, OSSObject: d.object, format: d.format, diskImageSize: d.size })),
    ...extra,
  });
}

/**
 * A qcow2 where every 4 MiB chunk of `virtualMiB` holds data (one marker byte): the file stays small
 * (a 64 KiB cluster per chunk) but importing and exporting it touch the whole virtual size, which takes
 * seconds, long enough to kill the service in the middle.
 */
export function makeMarkerDisk(dir: string, name: string, virtualMiB: number): DiskFixture {
  const raw = path.join(dir, `${name}.raw`);
  const fd = fs.openSync(raw, 'w');
  try {
    fs.ftruncateSync(fd, virtualMiB * MiB);
    for (let off = 0; off < virtualMiB * MiB; off += 4 * MiB) fs.writeSync(fd, Buffer.from([0x42]), 0, 1, off + 512);
  } finally {
    fs.closeSync(fd);
  }
  const file = path.join(dir, `${name}.qcow2`);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, file]);
  return { file, raw, format: 'qcow2', virtualSize: virtualMiB * MiB };
}
