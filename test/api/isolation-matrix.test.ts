/**
 * Tenant-isolation matrix, generated from the ECS action table: for every action parameter that takes a
 * resource ID (image, snapshot, instance, disk, task) or a bucket name, call it with another account's private
 * resource of each kind and with one that does not exist. Both answers must be the same (same status, same body
 * but the RequestId and the ID itself), and the rows of every resource table must be unchanged. Other parameters
 * an action needs are filled with the caller's own resources (or public values), also when the action asks for
 * them only once it runs (a MissingParameter answer names the one to add), so each call reaches the check of
 * the parameter under test. New actions and parameters join automatically.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../support/server.ts';
import { insertCustomImage } from '../support/images.ts';
import { seedSnapshot } from '../support/snapshots.ts';
import { waitFor } from '../support/wait.ts';
import { createBucket } from '../../src/services/buckets/repo.ts';
import { ACTIONS } from '../../src/api/ecs/dispatch.ts';
import { v1Signature, v1StringToSign } from '../../src/api/ecs/signature.ts';
import type { NewAccount } from '../../src/services/accounts.ts';

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let nonce = 0;

before(async () => {
  server = await startServer();
  alice = await server.account('alice');
  bob = await server.account('bob');
});
after(() => server.stop());

async function call(account: NewAccount, params: Record<string, string>): Promise<{ status: number; body: any }> {
  const all: Record<string, string> = {
    Version: '2014-05-26', Format: 'JSON', AccessKeyId: account.accessKeyId, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: `iso-${process.pid}-${++nonce}`, Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...params,
  };
  all.Signature = v1Signature(account.accessKeySecret, v1StringToSign('POST', all));
  const res = await fetch(`${server.endpoint}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(all).toString() });
  return { status: res.status, body: await res.json() };
}

/** Parameter names (wire form) that carry a resource ID or a bucket name, found in each action's schema. */
const NOT_RESOURCES = /^(RegionId|ZoneId|DestinationRegionId|ResourceGroupId|KMSKeyId|ImageOwnerId|ClientToken|OwnerId|ResourceOwnerId)$/;
type Target = 'id' | 'bucket';
function resourceParams(schema: Record<string, any>): { wire: string; json: boolean; target: Target }[] {
  const out: { wire: string; json: boolean; target: Target }[] = [];
  const single = (name: string): Target | null => (/Bucket$/.test(name) ? 'bucket' : /Id$/.test(name) && !NOT_RESOURCES.test(name) ? 'id' : null);
  for (const [name, f] of Object.entries(schema)) {
    if (f.type === 'structs' || f.type === 'object') {
      for (const sub of Object.keys(f.fields)) {
        const target = single(sub);
        if (target) out.push({ wire: f.type === 'structs' ? `${name}.1.${sub}` : `${name}.${sub}`, json: false, target });
      }
    } else if (f.type === 'list') {
      if (/Ids?$/.test(name)) out.push({ wire: `${name}.1`, json: false, target: 'id' });
    } else if (single(name)) out.push({ wire: name, json: false, target: single(name)! });
    else if (/Ids$/.test(name) && !NOT_RESOURCES.test(name)) out.push({ wire: name, json: name !== 'TaskIds', target: 'id' });
  }
  return out;
}

async function resourceRows(): Promise<string> {
  const db = server.app.services.db;
  const tables = ['images', 'image_disks', 'image_shares', 'snapshots', 'disks', 'instances', 'tags', 'jobs', 'buckets'] as const;
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await db.selectFrom(t).selectAll().execute();
  return JSON.stringify(out);
}

/** Values for other required parameters, so a call reaches the ID under test (public, shared by everyone). */
const FILL: Record<string, string> = {
  ImageId: 'ubuntu_24_04_x64_20G_alibase_20240812.vhd', InstanceType: 'ecs.g7.large', ImageFamily: 'acs:ubuntu_24_04_x64', OSSBucket: 'no-such-bucket', ProductCode: 'no-such-product',
};

/** The parameter a MissingParameter answer names (`The input parameter "X" that is mandatory…`). */
function missingName(body: any): string | undefined {
  return body.Code === 'MissingParameter' ? /"([^"]+)"/.exec(body.Message ?? '')?.[1] : undefined;
}

const strip = (body: any, id: string) => JSON.stringify({ ...body, RequestId: undefined, HostId: undefined, Recommend: undefined }).split(id).join('<ID>');

test('another account\'s private resources answer exactly like missing ones, and nothing changes', { timeout: 600_000 }, async () => {
  // Bob's private resources, one of each kind.
  const image = await insertCustomImage(server.app.services.db, { id: 'm-bp1isolationmatrix01', region: 'cn-hangzhou', owner_id: bob.accountId, name: 'bobs_image' });
  const { snapshotId } = await seedSnapshot(server, bob.accountId, 'cn-hangzhou', Buffer.alloc(1024 * 1024, 7));
  const run = await call(bob, { Action: 'RunInstances', RegionId: 'cn-hangzhou', ImageId: 'ubuntu_24_04_x64_20G_alibase_20240812.vhd', InstanceType: 'ecs.g7.large', InstanceChargeType: 'PostPaid' });
  assert.equal(run.status, 200, JSON.stringify(run.body));
  const instanceId = run.body.InstanceIdSets.InstanceIdSet[0];
  const disk = await server.app.services.db.selectFrom('disks').select('id').where('instance_id', '=', instanceId).executeTakeFirstOrThrow();
  const copied = await call(bob, { Action: 'CreateImage', RegionId: 'cn-hangzhou', SnapshotId: snapshotId, ImageName: 'bobs_copy' });
  assert.equal(copied.status, 200, JSON.stringify(copied.body));
  const task = await server.app.services.db.selectFrom('jobs').select('id').where('account_id', '=', bob.accountId).executeTakeFirstOrThrow();
  await createBucket(server.app.services, { name: 'bobs-bucket', owner: bob.accountId, region: 'cn-hangzhou' });
  const foreign: Record<Target, Record<string, string>> = {
    id: { image: image.id, snapshot: snapshotId, instance: instanceId, disk: disk.id, task: task.id },
    bucket: { bucket: 'bobs-bucket' },
  };
  const missingOf = (target: Target, id: string) => (target === 'bucket' ? 'no-such-bucket-zz9' : id.slice(0, -6) + 'zz9zz9');

  // Alice's own resources fill the parameters not under test.
  const own = await seedSnapshot(server, alice.accountId, 'cn-hangzhou', Buffer.alloc(1024 * 1024, 9));
  const ownImage = await call(alice, { Action: 'CreateImage', RegionId: 'cn-hangzhou', SnapshotId: own.snapshotId, ImageName: 'alices_image' });
  const ownRun = await call(alice, { Action: 'RunInstances', RegionId: 'cn-hangzhou', ImageId: FILL.ImageId, InstanceType: 'ecs.g7.large', InstanceChargeType: 'PostPaid' });
  assert.equal(ownRun.status, 200, JSON.stringify(ownRun.body));
  const ownInstance = ownRun.body.InstanceIdSets.InstanceIdSet[0];
  // Stopped, so actions that need a stopped instance (ReplaceSystemDisk) go on to the parameter under test.
  const stopped = await call(alice, { Action: 'StopInstance', InstanceId: ownInstance, ForceStop: 'true' });
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  const ownDisk = await server.app.services.db.selectFrom('disks').select('id').where('instance_id', '=', ownInstance).executeTakeFirstOrThrow();
  await createBucket(server.app.services, { name: 'alices-bucket', owner: alice.accountId, region: 'cn-hangzhou' });
  await waitFor(async () => {
    const open = await server.app.services.db.selectFrom('jobs').select('id').where('state', 'in', ['queued', 'running']).execute();
    return open.length === 0;
  }, { what: 'the setup jobs' });
  const mine: Record<string, string> = {
    ...FILL, ImageId: ownImage.body.ImageId, SnapshotId: own.snapshotId, InstanceId: ownInstance, DiskId: ownDisk.id, OSSBucket: 'alices-bucket',
    'DiskDeviceMapping.1.OSSObject': 'disk.qcow2',
  };

  const before = await resourceRows();
  let pairs = 0;
  const codes = new Map<string, number>();
  const actions = [...ACTIONS.values()];
  for (const action of actions) {
    for (const p of resourceParams(action.schema)) {
      for (const [kind, id] of Object.entries(foreign[p.target])) {
        const missing = missingOf(p.target, id);
        const value = (v: string) => (p.json ? JSON.stringify([v]) : v);
        const base: Record<string, string> = { Action: action.name, RegionId: 'cn-hangzhou' };
        for (const [name, f] of Object.entries(action.schema as Record<string, { required?: boolean }>)) if (f.required && mine[name] && name !== p.wire) base[name] = mine[name];
        let none = await call(alice, { ...base, [p.wire]: value(missing) });
        for (let name = missingName(none.body); name && mine[name] && name !== p.wire && !base[name]; name = missingName(none.body)) {
          base[name] = mine[name];
          none = await call(alice, { ...base, [p.wire]: value(missing) });
        }
        const theirs = await call(alice, { ...base, [p.wire]: value(id) });
        pairs++;
        codes.set(none.body.Code ?? 'OK', (codes.get(none.body.Code ?? 'OK') ?? 0) + 1);
        const label = `${action.name} ${p.wire}=<bob's ${kind}>`;
        if (p.target === 'bucket') {
          // Bucket names are one global namespace, as in OSS (CreateBucket tells a taken name anyway): another
          // account's bucket is refused as not authorized (spec: ImportImage/ExportImage), never used.
          assert.equal(theirs.body.Code, 'InvalidOSS.NotAuthorized', `${label}: ${JSON.stringify(theirs.body)}`);
          continue;
        }
        assert.equal(theirs.status, none.status, `${label}: HTTP ${theirs.status} ${theirs.body.Code} vs missing ${none.status} ${none.body.Code}`);
        assert.equal(strip(theirs.body, id), strip(none.body, missing), `${label}: the same answer as a missing ID`);
      }
    }
  }
  assert.equal(await resourceRows(), before, 'no resource row changed');
  console.log(`isolation matrix: ${pairs} (action, parameter, resource) pairs tried, each against a missing ID`);
  console.log(`answers: ${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  assert.ok(pairs > 50, `${pairs} pairs`);
  assert.equal(codes.get('MissingParameter') ?? 0, 0, 'every call reaches the check of the resource under test');
});
