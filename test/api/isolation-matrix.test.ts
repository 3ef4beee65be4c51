/**
 * Tenant-isolation matrix, generated from the ECS action table: for every action parameter that takes a
 * resource ID, call it with another account's private resource of each kind and with an ID that does not
 * exist. Both answers must be the same (same status, same body but the RequestId and the ID itself), and the
 * rows of every resource table must be unchanged. New actions and parameters join automatically.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from '../support/server.ts';
import { insertCustomImage } from '../support/images.ts';
import { seedSnapshot } from '../support/snapshots.ts';
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

/** Parameter names (wire form) that carry a resource ID, found in each action's schema. */
const NOT_RESOURCES = /^(RegionId|ZoneId|DestinationRegionId|ResourceGroupId|KMSKeyId|ImageOwnerId|ClientToken|OwnerId|ResourceOwnerId)$/;
function idParams(schema: Record<string, any>): { wire: string; json: boolean }[] {
  const out: { wire: string; json: boolean }[] = [];
  for (const [name, f] of Object.entries(schema)) {
    if (f.type === 'structs' || f.type === 'object') {
      for (const sub of Object.keys(f.fields)) if (/Id$/.test(sub) && !NOT_RESOURCES.test(sub)) out.push({ wire: f.type === 'structs' ? `${name}.1.${sub}` : `${name}.${sub}`, json: false });
    } else if (f.type === 'list') {
      if (/Ids?$/.test(name)) out.push({ wire: `${name}.1`, json: false });
    } else if (/Id$/.test(name) && !NOT_RESOURCES.test(name)) out.push({ wire: name, json: false });
    else if (/Ids$/.test(name) && !NOT_RESOURCES.test(name)) out.push({ wire: name, json: name !== 'TaskIds' });
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

const strip = (body: any, id: string) => JSON.stringify({ ...body, RequestId: undefined, HostId: undefined, Recommend: undefined }).split(id).join('<ID>');

test('another account\'s private resources answer exactly like missing ones, and nothing changes', { timeout: 600_000 }, async () => {
  // Bob's private resources, one of each kind.
  const image = await insertCustomImage(server.app.services.db, { id: 'm-bp1isolationmatrix01', region: 'cn-hangzhou', owner_id: bob.accountId, name: 'bobs_image' });
  const { snapshotId } = await seedSnapshot(server, bob.accountId, 'cn-hangzhou', Buffer.alloc(1024 * 1024, 7));
  const run = await call(bob, { Action: 'RunInstances', RegionId: 'cn-hangzhou', ImageId: 'ubuntu_24_04_x64_20G_alibase_20240812.vhd', InstanceType: 'ecs.g7.large', InstanceChargeType: 'PostPaid' });
  assert.equal(run.status, 200, JSON.stringify(run.body));
  const instanceId = run.body.InstanceIdSets.InstanceIdSet[0];
  const disk = await server.app.services.db.selectFrom('disks').select('id').where('instance_id', '=', instanceId).executeTakeFirstOrThrow();
  const foreign: Record<string, string> = { image: image.id, snapshot: snapshotId, instance: instanceId, disk: disk.id };

  const before = await resourceRows();
  let pairs = 0;
  const codes = new Map<string, number>();
  const actions = [...ACTIONS.values()];
  for (const action of actions) {
    for (const p of idParams(action.schema)) {
      for (const [kind, id] of Object.entries(foreign)) {
        const missing = id.slice(0, -6) + 'zz9zz9';
        const value = (v: string) => (p.json ? JSON.stringify([v]) : v);
        const base: Record<string, string> = { Action: action.name, RegionId: 'cn-hangzhou' };
        for (const [name, f] of Object.entries(action.schema as Record<string, { required?: boolean }>)) if (f.required && FILL[name] && name !== p.wire) base[name] = FILL[name];
        const theirs = await call(alice, { ...base, [p.wire]: value(id) });
        const none = await call(alice, { ...base, [p.wire]: value(missing) });
        pairs++;
        codes.set(none.body.Code ?? 'OK', (codes.get(none.body.Code ?? 'OK') ?? 0) + 1);
        const label = `${action.name} ${p.wire}=<bob's ${kind}>`;
        assert.equal(theirs.status, none.status, `${label}: HTTP ${theirs.status} ${theirs.body.Code} vs missing ${none.status} ${none.body.Code}`);
        assert.equal(strip(theirs.body, id), strip(none.body, missing), `${label}: the same answer as a missing ID`);
      }
    }
  }
  assert.equal(await resourceRows(), before, 'no resource row changed');
  console.log(`isolation matrix: ${pairs} (action, parameter, resource) pairs tried, each against a missing ID`);
  console.log(`answers: ${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  assert.ok(pairs > 50, `${pairs} pairs`);
});
