/** `imagehouse instance|disk|snapshot …` against a running server, as a user runs them. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestServer } from '../support/server.ts';
import { main } from '../../src/cli/main.ts';
import { EXIT, type CliIo } from '../../src/cli/command.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { GIB, PUBLIC_X64, pattern } from '../api/disks/support.ts';

let server: TestServer;
let alice: NewAccount;
let dir: string;

before(async () => {
  ({ server, accounts: { alice } } = await startServerWith(['alice']));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-cli-'));
});
after(async () => {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[], account: Pick<NewAccount, 'accessKeyId' | 'accessKeySecret'> = alice): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: account.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: account.accessKeySecret, IMAGEHOUSE_REGION: 'cn-hangzhou' },
    isTTY: false,
  };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('instance run / list / stop / start / delete', async () => {
  const run = await cli(['instance', 'run', '--image', PUBLIC_X64, '--type', 'ecs.g7.large', '--amount', '2', '--data-disk', '20', '--json']);
  assert.equal(run.code, EXIT.ok, run.err);
  const ids: string[] = JSON.parse(run.out).InstanceIds;
  assert.equal(ids.length, 2);
  const listed = JSON.parse((await cli(['instance', 'list', '--json'])).out);
  assert.deepEqual(listed.map((i: any) => i.InstanceId).sort(), [...ids].sort());
  const human = await cli(['instance', 'list']);
  assert.match(human.out.split('\n')[0], /^INSTANCE ID\s+NAME\s+STATUS/);
  assert.ok(ids.every((id) => human.out.includes(id)));

  assert.equal((await cli(['instance', 'start', ids[0]])).code, EXIT.conflict, 'already running');
  assert.equal((await cli(['instance', 'stop', ids[0]])).code, EXIT.ok);
  const stopped = JSON.parse((await cli(['instance', 'list', '--status', 'Stopped', '--json'])).out);
  assert.deepEqual(stopped.map((i: any) => i.InstanceId), [ids[0]]);
  assert.equal((await cli(['instance', 'start', ids[0]])).code, EXIT.ok);
  assert.equal((await cli(['instance', 'delete', ids[1]])).code, EXIT.conflict, 'running instances need --force');
  assert.equal((await cli(['instance', 'delete', ids[1], '--force'])).code, EXIT.ok);
  const gone = await cli(['instance', 'stop', ids[1]]);
  assert.equal(gone.code, EXIT.notFound);
  assert.match(gone.err, /InvalidInstanceId\.NotFound/);
  assert.equal((await cli(['instance', 'run', '--type', 'ecs.g7.large'])).code, EXIT.usage);
  assert.equal((await cli(['instance', 'run', '--image', 'm-bp1nosuch0000000000', '--type', 'ecs.g7.large'])).code, EXIT.notFound);
});

test('disk list / write / read (a range) and snapshot create / list / delete', async () => {
  const run = await cli(['instance', 'run', '--image', PUBLIC_X64, '--type', 'ecs.g7.large', '--data-disk', '20', '--json']);
  assert.equal(run.code, EXIT.ok, run.err);
  const [instanceId] = JSON.parse(run.out).InstanceIds;
  const disks = JSON.parse((await cli(['disk', 'list', '--instance', instanceId, '--json'])).out);
  assert.equal(disks.length, 2);
  const system = disks.find((d: any) => d.Type === 'system');
  const table = (await cli(['disk', 'list', '--instance', instanceId])).out;
  assert.match(table.split('\n')[0], /^DISK ID\s+TYPE\s+CATEGORY\s+GIB/);

  const file = path.join(dir, 'payload.bin');
  const payload = pattern(5 * 1024 * 1024 + 17, 42);
  fs.writeFileSync(file, payload);
  const w = await cli(['disk', 'write', system.DiskId, file, '--offset', '1048576', '--json']);
  assert.equal(w.code, EXIT.ok, w.err);
  assert.deepEqual(JSON.parse(w.out), { DiskId: system.DiskId, Offset: 1048576, BytesWritten: payload.length });

  const part = path.join(dir, 'part.bin');
  const r = await cli(['disk', 'read', system.DiskId, part, '--offset', '1048576', '--length', String(payload.length)]);
  assert.equal(r.code, EXIT.ok, r.err);
  assert.deepEqual(fs.readFileSync(part), payload);

  const snap = await cli(['snapshot', 'create', system.DiskId, '--name', 'cli-snap', '--json']);
  assert.equal(snap.code, EXIT.ok, snap.err);
  const snapshotId = JSON.parse(snap.out).SnapshotId;
  await cli(['disk', 'write', system.DiskId, file, '--offset', '0']);
  const snaps = JSON.parse((await cli(['snapshot', 'list', '--disk', system.DiskId, '--json'])).out);
  assert.deepEqual(snaps.map((s: any) => [s.SnapshotId, s.SnapshotName, s.Usage]), [[snapshotId, 'cli-snap', 'none']]);
  assert.match((await cli(['snapshot', 'list'])).out, new RegExp(snapshotId));

  // Beyond the end of the disk: rejected, exit code for a rejected request.
  const tooFar = await cli(['disk', 'write', system.DiskId, file, '--offset', String(40 * GIB - 10)]);
  assert.equal(tooFar.code, EXIT.rejected);
  assert.match(tooFar.err, /InvalidParameter/);
  const bob = await server.account('bob');
  assert.equal((await cli(['disk', 'read', system.DiskId, part, '--length', '10'], bob)).code, EXIT.notFound);

  assert.equal((await cli(['snapshot', 'delete', snapshotId])).code, EXIT.ok);
  assert.equal((await cli(['snapshot', 'delete', snapshotId])).code, EXIT.notFound);
});

test('disk read without a range downloads the whole disk as a sparse raw file', async () => {
  // A 1 GiB disk: the smallest there is (ESSD PL0), made through the API.
  const { Ecs, ecsClient } = await import('../support/sdk.ts');
  const client = ecsClient(server.hostPort, alice);
  const res = await client.runInstances(new Ecs.RunInstancesRequest({
    regionId: 'cn-hangzhou', imageId: PUBLIC_X64, instanceType: 'ecs.g7.large',
    dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 1, category: 'cloud_essd', performanceLevel: 'PL0' })],
  }));
  const instanceId = res.body.instanceIdSets.instanceIdSet[0];
  const disks = JSON.parse((await cli(['disk', 'list', '--instance', instanceId, '--type', 'data', '--json'])).out);
  const diskId = disks[0].DiskId;
  const file = path.join(dir, 'mark.bin');
  fs.writeFileSync(file, Buffer.from('imagehouse'));
  await cli(['disk', 'write', diskId, file, '--offset', String(GIB / 2)]);
  const out = path.join(dir, 'whole.raw');
  const r = await cli(['disk', 'read', diskId, out, '--json']);
  assert.equal(r.code, EXIT.ok, r.err);
  assert.equal(JSON.parse(r.out).Bytes, GIB);
  const st = fs.statSync(out);
  assert.equal(st.size, GIB);
  assert.ok(st.blocks * 512 < 64 * 1024 * 1024, `zero ranges stay holes (${st.blocks * 512} bytes allocated)`);
  const fd = fs.openSync(out, 'r');
  const mark = Buffer.alloc(10);
  fs.readSync(fd, mark, 0, 10, GIB / 2);
  fs.closeSync(fd);
  assert.equal(mark.toString(), 'imagehouse');
});
