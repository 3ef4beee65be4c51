/**
 * User stories for the CLI: a disk file imported straight from the laptop (no bucket), exported back to a
 * bucket and downloaded, with the task commands; exit codes and progress output as a user sees them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestServer } from '../support/server.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { main } from '../../src/cli/main.ts';
import { EXIT, type CliIo } from '../../src/cli/command.ts';
import { makeDisk, sameContent, type DiskFixture } from './transfer-support.ts';
import { needing } from '../support/requires.ts';
import crypto from 'node:crypto';
import { ApiCallError, dataRequest } from '../../src/cli/api.ts';
import { SPARSE_CONTENT_TYPE, sparseFrameHeader, sparseHeader } from '../../src/formats/sparse-body.ts';

const { after, before, test } = needing('qemu-img');

let server: TestServer;
let alice: NewAccount;
let dir: string;
let disk: DiskFixture;

before(async () => {
  ({ server, accounts: { alice } } = await startServerWith(['alice']));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-import-cli-'));
  disk = makeDisk(dir, 'laptop', { virtualMiB: 48, dataMiB: 20, format: 'qcow2' });
});
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number; out: string[]; err: string[]; json: any }

async function cli(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTTY: false,
    env: {
      IMAGEHOUSE_ENDPOINT: server.endpoint,
      IMAGEHOUSE_ACCESS_KEY_ID: alice.accessKeyId,
      IMAGEHOUSE_ACCESS_KEY_SECRET: alice.accessKeySecret,
      IMAGEHOUSE_REGION: 'cn-hangzhou',
      IMAGEHOUSE_POLL_MS: '50',
    },
  };
  const code = await main(argv, io);
  let json: any;
  try { json = JSON.parse(out.join('\n')); } catch { json = undefined; }
  return { code, out, err, json };
}

test('Alice imports a qcow2 from her disk with a progress bar and waits until it is Available', async () => {
  const r = await cli('image', 'import', disk.file, '--name', 'laptop-image', '--platform', 'Debian', '--wait', '--json');
  assert.equal(r.code, EXIT.ok, r.err.join('\n'));
  assert.equal(r.json.status, 'Available');
  assert.match(r.json.imageId, /^m-bp1/);
  assert.match(r.json.taskId, /^t-bp1/);
  assert.equal(r.json.size, fs.statSync(disk.file).size);
  assert.match(r.json.sha256, /^[0-9a-f]{64}$/);
  assert.ok(r.err.some((l) => /^uploading laptop\.qcow2: \d+% .* MiB of .* MiB, .*\/s, ETA/.test(l)), r.err.join('\n'));
  assert.ok(r.err.some((l) => /^uploading laptop\.qcow2: 100% .* uploaded$/.test(l)));
  assert.ok(r.err.some((l) => /^importing: 100% Available$/.test(l)), r.err.join('\n'));
  assert.deepEqual(fs.readdirSync(path.join(server.dataDir, 'uploads')), [], 'the spooled upload is gone once imported');

  const shown = await cli('task', 'show', r.json.taskId, '--json');
  assert.equal(shown.code, EXIT.ok);
  assert.equal(shown.json.action, 'ImportImage');
  assert.equal(shown.json.status, 'Finished');
  assert.equal(shown.json.progress, '100%');
});

test('Alice exports it to a bucket, downloads the object, and gets her bytes back', async () => {
  assert.equal((await cli('bucket', 'create', 'laptop-exports')).code, EXIT.ok);
  const image = (await cli('task', 'list', '--action', 'ImportImage', '--json')).json[0].resourceId;
  const r = await cli('image', 'export', image, '--bucket', 'laptop-exports', '--format', 'vhd', '--prefix', 'backup', '--wait', '--json');
  assert.equal(r.code, EXIT.ok, r.err.join('\n'));
  assert.equal(r.json.status, 'Finished');
  assert.equal(r.json.objects.length, 1);
  assert.match(r.json.objects[0], new RegExp(`^backup_${image}_t-bp1[0-9a-z]{17}\\.vhd$`));

  const ls = await cli('bucket', 'ls', 'laptop-exports', '--json');
  assert.deepEqual(ls.json.map((o: any) => o.key), r.json.objects);
  const out = path.join(dir, 'downloaded.vhd');
  const got = await cli('bucket', 'get', 'laptop-exports', r.json.objects[0], '--output', out, '--json');
  assert.equal(got.code, EXIT.ok);
  assert.equal(got.json.size, fs.statSync(out).size);
  assert.ok(sameContent(out, 'vpc', disk.raw, 'raw'));
});

test('a raw export downloads with its zero runs as holes and the same bytes', async () => {
  const image = (await cli('task', 'list', '--action', 'ImportImage', '--json')).json[0].resourceId;
  const r = await cli('image', 'export', image, '--bucket', 'laptop-exports', '--format', 'raw', '--prefix', 'sparse', '--wait', '--json');
  assert.equal(r.code, EXIT.ok, r.err.join('\n'));
  const out = path.join(dir, 'downloaded.raw');
  const got = await cli('bucket', 'get', 'laptop-exports', r.json.objects[0], '--output', out, '--json');
  assert.equal(got.code, EXIT.ok);
  const st = fs.statSync(out);
  assert.equal(st.size, disk.virtualSize);
  assert.ok(st.blocks * 512 <= fs.statSync(disk.raw).blocks * 512 + (1 << 20), `allocated ${st.blocks * 512} of ${st.size} bytes`);
  assert.ok(sameContent(out, 'raw', disk.raw, 'raw'));
});

test('a raw file with holes is imported from its data alone: the hash covers every byte, the image holds them', async () => {
  const MiB = 1 << 20;
  const file = path.join(dir, 'holes.raw');
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, 64 * MiB);
  const data = crypto.randomBytes(3 * MiB + 5);
  fs.writeSync(fd, data, 0, data.length, 20 * MiB + 4096);
  fs.closeSync(fd);
  const r = await cli('image', 'import', file, '--name', 'with-holes', '--wait', '--json');
  assert.equal(r.code, EXIT.ok, r.err.join('\n'));
  assert.equal(r.json.status, 'Available');
  assert.equal(r.json.size, 64 * MiB);
  assert.equal(r.json.sha256, crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
  const ex = await cli('image', 'export', r.json.imageId, '--bucket', 'laptop-exports', '--format', 'raw', '--prefix', 'holes', '--wait', '--json');
  assert.equal(ex.code, EXIT.ok, ex.err.join('\n'));
  const back = path.join(dir, 'holes-back.raw');
  assert.equal((await cli('bucket', 'get', 'laptop-exports', ex.json.objects[0], '--output', back)).code, EXIT.ok);
  assert.ok(sameContent(back, 'raw', file, 'raw'), 'the imported image holds the file\'s bytes');

  // The endpoint itself: a sparse body stands for its size in bytes; a malformed one is refused and imports nothing.
  const cfg = { endpoint: server.endpoint, region: 'cn-hangzhou', accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret };
  const frame = crypto.randomBytes(70_000);
  const body = Buffer.concat([sparseHeader(32 * MiB), sparseFrameHeader(5 * MiB + 3, frame.length), frame]);
  const expanded = Buffer.alloc(32 * MiB);
  frame.copy(expanded, 5 * MiB + 3);
  const send = (b: Buffer) => dataRequest(cfg, 'POST', '/images/import', { RegionId: 'cn-hangzhou', ImageName: `sparse-${b.length}` }, { body: (async function* () { yield b; })(), headers: { 'content-type': SPARSE_CONTENT_TYPE } });
  const started = (await (await send(body)).json()) as { Size: number; Sha256: string; ImageId: string };
  assert.equal(started.Size, 32 * MiB);
  assert.equal(started.Sha256, crypto.createHash('sha256').update(expanded).digest('hex'));
  const images = () => server.app.services.db.selectFrom('images').select('id').where('owner_id', '=', alice.accountId).execute();
  const before = (await images()).length;
  const bad = await send(Buffer.concat([sparseHeader(10), sparseFrameHeader(8, 4), Buffer.from('abcd')])).then(() => undefined, (e: unknown) => e);
  assert.ok(bad instanceof ApiCallError && bad.status === 400, String(bad));
  assert.equal((await images()).length, before);
});

test('bucket commands: create, put with a key, list as JSON and as a table', async () => {
  assert.equal((await cli('bucket', 'create', 'scratch-bucket', '--json')).json.name, 'scratch-bucket');
  const put = await cli('bucket', 'put', 'scratch-bucket', disk.raw, '--key', 'raw/laptop.raw', '--json');
  assert.deepEqual(put.json, { bucket: 'scratch-bucket', key: 'raw/laptop.raw', size: disk.virtualSize });
  const buckets = await cli('bucket', 'ls', '--json');
  assert.deepEqual(buckets.json.map((b: any) => b.name), ['laptop-exports', 'scratch-bucket']);
  const table = (await cli('bucket', 'ls', 'scratch-bucket')).out.join('\n').split('\n');
  assert.match(table[0], /^KEY\s+SIZE\s+MODIFIED$/);
  assert.match(table[1], new RegExp(`^raw/laptop\\.raw\\s+${disk.virtualSize}\\s+\\d{4}-`));
  assert.equal((await cli('bucket', 'create', 'scratch-bucket')).code, EXIT.conflict);
  assert.equal((await cli('bucket', 'create', 'Bad_Name')).code, EXIT.rejected);
  assert.equal((await cli('bucket', 'get', 'scratch-bucket', 'nope', '--output', path.join(dir, 'x'))).code, EXIT.notFound);
  assert.equal((await cli('bucket', 'put', 'scratch-bucket', disk.raw, '--key', '../escape')).code, EXIT.rejected);
  assert.equal((await cli('bucket', 'ls', 'someone-elses')).code, EXIT.notFound);
});

test('A file the service rejects: --wait exits 3 with the reason; bad requests fail before the upload', async () => {
  const base = path.join(dir, 'base.qcow2');
  const child = path.join(dir, 'child.qcow2');
  execFileSync('qemu-img', ['create', '-f', 'qcow2', base, '16M'], { stdio: 'pipe' });
  execFileSync('qemu-img', ['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', child], { stdio: 'pipe' });
  const r = await cli('image', 'import', child, '--name', 'with-backing', '--wait', '--json');
  assert.equal(r.code, EXIT.rejected);
  assert.equal(r.json.status, 'CreateFailed');
  assert.equal(r.json.errorCode, 'InvalidImage.BackingFile');

  const human = await cli('image', 'import', child, '--name', 'with-backing-2', '--wait');
  assert.equal(human.code, EXIT.rejected);
  assert.ok(human.err.some((l) => /^image import: CreateFailed: InvalidImage\.BackingFile: .*backing file/.test(l)), human.err.join('\n'));

  const empty = path.join(dir, 'empty.img');
  fs.writeFileSync(empty, '');
  const e = await cli('image', 'import', empty, '--name', 'empty-file');
  assert.equal(e.code, EXIT.rejected);
  assert.match(e.err.join('\n'), /InvalidUpload\.Empty/);

  const bad = await cli('image', 'import', disk.file, '--name', '9-bad-name');
  assert.equal(bad.code, EXIT.rejected);
  assert.match(bad.err.join('\n'), /InvalidImageName\.Malformed/);
  assert.ok(!bad.err.some((l) => l.includes('100%')), 'nothing was uploaded');
  assert.equal((await cli('image', 'import', disk.file, '--name', 'laptop-image')).code, EXIT.conflict, 'the name is taken');
  assert.equal((await cli('image', 'import', disk.file, '--name', 'x1', '--format', 'vhd', '--wait')).code, EXIT.rejected, 'declared format mismatch');
  assert.equal((await cli('image', 'import', disk.file)).code, EXIT.usage);
  assert.deepEqual(fs.readdirSync(path.join(server.dataDir, 'uploads')), []);
  assert.deepEqual(fs.readdirSync(path.join(server.dataDir, 'tmp')).filter((f) => f.startsWith('upload-')), []);
});

test('task commands and missing credentials', async () => {
  const list = (await cli('task', 'list')).out.join('\n').split('\n');
  assert.match(list[0], /^TASK ID\s+ACTION\s+STATUS\s+RESOURCE\s+CREATED\s+FINISHED$/);
  const finished = (await cli('task', 'list', '--status', 'Finished', '--json')).json[0].taskId;
  const cancel = await cli('task', 'cancel', finished);
  assert.equal(cancel.code, EXIT.rejected);
  assert.match(cancel.err[0], /InvalidTaskId\.IncorrectTaskStatus/);
  assert.equal((await cli('task', 'show', 't-bp1doesnotexist00000')).code, EXIT.notFound);
  const failed = (await cli('task', 'list', '--status', 'Failed', '--json')).json[0].taskId;
  const shown = await cli('task', 'show', failed);
  assert.match(shown.out.join('\n'), /Failed.*InvalidImage\.BackingFile|InvalidImageFormat\.Mismatch/);

  const out: string[] = [];
  const code = await main(['task', 'list'], { out: (l) => out.push(l), err: (l) => out.push(l), isTTY: false, env: { IMAGEHOUSE_ENDPOINT: server.endpoint } });
  assert.equal(code, EXIT.auth);
  assert.match(out.join('\n'), /no credentials/);
});

test('The data endpoints refuse unsigned requests', async () => {
  const res = await fetch(`${server.endpoint}/images/import?RegionId=cn-hangzhou&ImageName=anon`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  assert.ok(res.status >= 400);
  const body = await res.json() as { Code: string; RequestId: string };
  assert.ok(body.Code && body.RequestId);
  const list = await fetch(`${server.endpoint}/buckets`);
  assert.ok(list.status >= 400);
});
