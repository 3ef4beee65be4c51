/**
 * The NBD surface against real clients: qemu-img (info, convert, compare against the HTTP download),
 * qemu-io (write + read back, zeroing, discard), nbdcopy and nbdinfo; tokens that are forged, expired or for
 * another account's disk are refused; manifests held by exports are released when clients disconnect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../../support/server.ts';
import { Ecs, ecsClient } from '../../support/sdk.ts';
import { ApiCallError, dataRequest, type ClientConfig } from '../../../src/cli/api.ts';
import { isAllZero } from '../../../src/domain/disk.ts';
import { GIB, dataConfig, getBytes, launch, manifestHoldsBalance, pattern, putBytes } from '../disks/support.ts';
import { manifestEntry } from '../../../src/blobs/manifests.ts';
import { requires } from '../../support/requires.ts';

const run = promisify(execFile);
const skip = requires('qemu-img', 'nbd-tools');

async function token(cfg: ClientConfig, diskId: string, ttl?: number): Promise<{ ExportName: string; Uri: string; Expiration: string }> {
  const res = await dataRequest(cfg, 'POST', `/disks/${diskId}/nbd-token`, ttl === undefined ? {} : { TtlSeconds: String(ttl) });
  return (await res.json()) as any;
}

/** The disk as the HTTP endpoint serves it, written sparsely (zero runs are skipped) to `file`. */
async function download(cfg: ClientConfig, diskId: string, file: string): Promise<void> {
  const res = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {});
  const fd = fs.openSync(file, 'w');
  let at = 0;
  let pending = Buffer.alloc(0);
  const block = 1 << 20;
  const put = (buf: Buffer) => {
    if (!isAllZero(buf)) fs.writeSync(fd, buf, 0, buf.length, at);
    at += buf.length;
  };
  for await (const part of res.body as any as AsyncIterable<Uint8Array>) {
    pending = pending.length ? Buffer.concat([pending, part]) : Buffer.from(part);
    while (pending.length >= block) {
      put(pending.subarray(0, block));
      pending = pending.subarray(block);
    }
  }
  if (pending.length) put(pending);
  fs.ftruncateSync(fd, at);
  fs.closeSync(fd);
}

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

test('qemu-img, qemu-io, nbdcopy and nbdinfo read and write a disk over NBD', { skip }, async () => {
  const server = await startServer();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-nbd-'));
  try {
    const alice = await server.account('alice');
    const bob = await server.account('bob');
    const cfg = dataConfig(server, alice);
    const { data } = await launch(ecsClient(server.hostPort, alice), {
      dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 1, category: 'cloud_essd', performanceLevel: 'PL0' })],
    });
    const diskId = data[0].diskId;
    // Data in chunk 0, across the chunk 1/2 boundary, and at the very end; holes elsewhere.
    const a = pattern(100_000, 1);
    const b = pattern(300_000, 2);
    const c = pattern(4096, 3);
    await putBytes(cfg, diskId, 512, a);
    await putBytes(cfg, diskId, 2 * 4 * 1024 * 1024 - 100_000, b);
    await putBytes(cfg, diskId, GIB - 4096, c);

    const t = await token(cfg, diskId);
    assert.match(t.Uri, /^nbd:\/\/127\.0\.0\.1:\d+\/d-[0-9a-z]+\.\d+\.[\w-]{43}$/);
    assert.ok(Date.parse(t.Expiration) > Date.now());

    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', t.Uri])).stdout);
    assert.equal(info['virtual-size'], GIB);
    const list = (await run('nbdinfo', ['--map', t.Uri])).stdout;
    assert.match(list, /hole,zero/);
    assert.match(list, /data/);

    // The NBD bytes equal the HTTP download, compared by qemu-img.
    const http = path.join(tmp, 'http.raw');
    await download(cfg, diskId, http);
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', http, t.Uri]);
    // qemu-img convert (sparse qcow2) and nbdcopy (sparse raw) copy the same bytes.
    const qcow = path.join(tmp, 'copy.qcow2');
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', t.Uri, qcow]);
    await run('qemu-img', ['compare', '-F', 'raw', qcow, http]);
    assert.ok(fs.statSync(qcow).size < 8 * 1024 * 1024, 'holes stay holes in the copy');
    const copy = path.join(tmp, 'copy.raw');
    await run('nbdcopy', [t.Uri, copy]);
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', copy, http]);

    // qemu-io writes, reads back, zeroes and discards; the HTTP endpoint sees each change.
    const io = (...cmds: string[]) => run('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), t.Uri]);
    await io('write -P 0xab 1M 64k', 'read -P 0xab 1M 64k', 'write -P 0xcd 12345 100', 'read -P 0xcd 12345 100');
    assert.deepEqual(await getBytes(cfg, diskId, 1024 * 1024, 65536), Buffer.alloc(65536, 0xab));
    assert.deepEqual(await getBytes(cfg, diskId, 12345, 100), Buffer.alloc(100, 0xcd));
    assert.deepEqual(await getBytes(cfg, diskId, 512, 12345 - 512), a.subarray(0, 12345 - 512));
    await io('write -z 1M 32k', 'read -P 0 1M 32k', 'read -P 0xab 1056k 32k');
    assert.deepEqual(await getBytes(cfg, diskId, 1024 * 1024, 65536), Buffer.concat([Buffer.alloc(32768), Buffer.alloc(32768, 0xab)]));
    // A discard of whole chunks leaves holes: the manifest no longer stores them.
    await io('discard 4M 8M', 'read -P 0 4M 8M');
    const row = await server.app.services.db.selectFrom('disks').select('manifest_id').where('id', '=', diskId).executeTakeFirstOrThrow();
    const m = await server.app.services.dataPlane.manifests.load(row.manifest_id);
    assert.equal(manifestEntry(m!.manifest, 1), null);
    assert.equal(manifestEntry(m!.manifest, 2), null);
    assert.deepEqual(await getBytes(cfg, diskId, 3 * 4 * 1024 * 1024 - 10, 10), Buffer.alloc(10));

    // nbdcopy writes into the export (here: the file copied earlier, back over the disk).
    await run('nbdcopy', [copy, t.Uri]);
    await download(cfg, diskId, path.join(tmp, 'after.raw'));
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', path.join(tmp, 'after.raw'), http]);

    // Refused: a forged MAC, another disk's ID under this MAC, an expired token, another account's disk.
    const forged = t.Uri.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'));
    assert.match((await failure(run('qemu-img', ['info', forged]))).stderr, /export|token|not valid/i);
    const expired = await token(cfg, diskId, 1);
    await new Promise((r) => setTimeout(r, 2100));
    assert.match((await failure(run('qemu-img', ['info', expired.Uri]))).stderr, /export|token|not valid/i);
    assert.match((await failure(run('nbdinfo', [expired.Uri]))).stderr, /.+/);
    const notHers = await failure(token(dataConfig(server, bob), diskId));
    assert.ok(notHers instanceof ApiCallError);
    assert.equal(notHers.code, 'InvalidDiskId.NotFound');
    for (const ttl of [0, 3601]) assert.equal((await failure(token(cfg, diskId, ttl))).code, 'InvalidParameter');
    // LIST names no export (names are secrets); a client that only asks INFO and leaves holds nothing.
    assert.doesNotMatch((await run('nbdinfo', ['--list', `nbd://127.0.0.1:${server.app.nbd.port()}`]).catch((e) => e)).stdout ?? '', /d-/);

    assert.deepEqual(await manifestHoldsBalance(server), []);
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
