/**
 * Uploads and downloads are heavy requests (issue 11's per-account limit): each holds data plane buffers (16–32 MiB)
 * and disk bandwidth, so one account opening many of them could take the service's memory (64 held Glance downloads
 * took 1.2 GB). Beyond `IMAGEHOUSE_REQUESTS_PER_ACCOUNT` (1 here) a transfer is refused at once, in each surface's
 * shape (Glance 429 with Retry-After, the data endpoints Throttling.User), and changes nothing; other accounts go on;
 * a download holds its slot until its body is over, however it ends (finished, abandoned mid-body, HEAD).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, type TestServer } from '../support/server.ts';
import { keystoneToken } from '../support/keystone.ts';
import { glanceCall } from '../support/glance.ts';
import { waitFor } from '../support/wait.ts';
import { dataRequest, type ClientConfig } from '../../src/cli/api.ts';
import { ecsClient } from '../support/sdk.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { dataConfig, failure, launch } from './disks/support.ts';

const MiB = 1024 * 1024;
/** Large enough that a client which stops reading leaves the server waiting on the socket mid-body. */
const HELD_BYTES = 32 * MiB;

/** A GET whose body is left unread after its first bytes; `abandon` hangs up. */
async function heldDownload(url: string, headers: Record<string, string>): Promise<{ status: number; abandon(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.once('data', () => {
        res.pause();
        resolve({ status: res.statusCode ?? 0, abandon: () => req.destroy() });
      });
    });
    req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
  });
}

describe('uploads and downloads count against the per-account limit on heavy requests', () => {
  let s: TestServer;
  let alice: NewAccount;
  let bob: NewAccount;
  before(async () => {
    s = await startServer({ env: { IMAGEHOUSE_REQUESTS_PER_ACCOUNT: '1' }, postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    alice = await s.account('alice');
    bob = await s.account('bob');
  });
  after(async () => s?.stop());
  const slots = (a: NewAccount) => s.app.services.work.inFlight(a.accountId);

  it('Glance: a held GET /file refuses the account\'s next download, stage and upload with 429, not other accounts\'; freed when abandoned', async () => {
    const [ta, tb] = [await keystoneToken(s.endpoint, alice), await keystoneToken(s.endpoint, bob)];
    const call = (token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      glanceCall(s.endpoint, token, method, path, body, Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json', headers);
    const image = async (token: string, bytes?: Buffer) => {
      const id = (await call(token, 'POST', '/v2/images', { name: 'held', disk_format: 'raw', container_format: 'bare' })).json.id as string;
      if (bytes) assert.equal((await call(token, 'PUT', `/v2/images/${id}/file`, bytes)).status, 204);
      return id;
    };
    const big = await image(ta, Buffer.alloc(HELD_BYTES, 7));
    const small = await image(ta, Buffer.from('small'));
    const queued = await image(ta);
    const bobs = await image(tb, Buffer.from('bob'));

    const held = await heldDownload(`${s.endpoint}/image/v2/images/${big}/file`, { 'x-auth-token': ta });
    assert.equal(held.status, 200);
    assert.equal(slots(alice), 1);

    const refused = await call(ta, 'GET', `/v2/images/${small}/file`);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.deepEqual([refused.json.code, refused.json.title], ['429 Too Many Requests', 'Too Many Requests']);
    assert.match(refused.json.message, /too many uploads, downloads and other heavy requests/);

    for (const route of ['stage', 'file']) {
      const refusedUpload = await call(ta, 'PUT', `/v2/images/${queued}/${route}`, Buffer.from('uploaded bytes'));
      assert.equal(refusedUpload.status, 429, route);
      assert.equal((await call(ta, 'GET', `/v2/images/${queued}`)).json.status, 'queued', `a refused PUT /${route} changes nothing`);
    }

    const other = await call(tb, 'GET', `/v2/images/${bobs}/file`);
    assert.deepEqual([other.status, other.bytes.toString()], [200, 'bob'], 'another account is not limited by alice');

    held.abandon();
    await waitFor(() => slots(alice) === 0, { what: 'the abandoned download to give its slot back' });
    const again = await call(ta, 'GET', `/v2/images/${small}/file`);
    assert.deepEqual([again.status, again.bytes.toString()], [200, 'small']);
    assert.equal((await call(ta, 'PUT', `/v2/images/${queued}/file`, Buffer.from('uploaded bytes'))).status, 204);
    assert.equal((await call(ta, 'GET', `/v2/images/${queued}`)).json.status, 'active');
    const staged = await image(ta);
    assert.equal((await call(ta, 'PUT', `/v2/images/${staged}/stage`, Buffer.from('staged bytes'))).status, 204);
    assert.equal((await call(ta, 'GET', `/v2/images/${staged}`)).json.status, 'uploading');

    // HEAD answers without a body; its slot is given back all the same.
    assert.equal((await call(ta, 'HEAD', `/v2/images/${small}/file`)).status, 200);
    assert.equal(slots(alice), 0);
    // So does a download refused for its range, and one that finishes.
    assert.equal((await call(ta, 'GET', `/v2/images/${small}/file`, undefined, { range: 'bytes=99-' })).status, 416);
    assert.equal((await call(ta, 'GET', `/v2/images/${big}/file`)).bytes.length, HELD_BYTES);
    assert.equal(slots(alice), 0);
  });

  it('data endpoints: a held object or disk download refuses the account\'s uploads and direct imports with Throttling.User', async () => {
    const cfg: ClientConfig = dataConfig(s, alice);
    const bobCfg: ClientConfig = dataConfig(s, bob);
    await dataRequest(cfg, 'PUT', '/buckets/alice-held', { RegionId: 'cn-hangzhou' });
    await dataRequest(bobCfg, 'PUT', '/buckets/bob-held', { RegionId: 'cn-hangzhou' });
    await dataRequest(cfg, 'PUT', '/buckets/alice-held/object', { Key: 'big' }, { body: Buffer.alloc(HELD_BYTES, 9) });
    await dataRequest(bobCfg, 'PUT', '/buckets/bob-held/object', { Key: 'b' }, { body: Buffer.from('bob') });
    const keys = async () => ((await (await dataRequest(cfg, 'GET', '/buckets/alice-held/objects', {})).json()) as any).Objects.Object.map((o: any) => o.Key);

    const { system } = await launch(ecsClient(s.hostPort, alice));
    const holds = [
      ['an object download', () => dataRequest(cfg, 'GET', '/buckets/alice-held/object', { Key: 'big' })],
      ['a disk content download', () => dataRequest(cfg, 'GET', `/disks/${system.diskId}/content`, {})],
    ] as const;
    for (const [what, open] of holds) {
      const res = await open();
      const reader = res.body!.getReader();
      await reader.read();
      assert.equal(slots(alice), 1, what);

      const put = await failure(dataRequest(cfg, 'PUT', '/buckets/alice-held/object', { Key: 'refused' }, { body: Buffer.from('x') }));
      assert.deepEqual([put.code, put.status], ['Throttling.User', 400], what);
      const get = await failure(dataRequest(cfg, 'GET', '/buckets/alice-held/object', { Key: 'big' }));
      assert.equal(get.code, 'Throttling.User', what);
      const imported = await failure(dataRequest(cfg, 'POST', '/images/import', { RegionId: 'cn-hangzhou', ImageName: 'refused', Format: 'RAW' }, { body: Buffer.alloc(512) }));
      assert.equal(imported.code, 'Throttling.User', what);
      assert.deepEqual(await keys(), ['big'], `${what}: a refused upload leaves nothing`);
      const bobs = await dataRequest(bobCfg, 'GET', '/buckets/bob-held/object', { Key: 'b' });
      assert.equal(await bobs.text(), 'bob', `${what}: another account is not limited by alice`);

      await reader.cancel();
      await waitFor(() => slots(alice) === 0, { what: `${what} abandoned to give its slot back` });
    }
    await dataRequest(cfg, 'PUT', '/buckets/alice-held/object', { Key: 'after' }, { body: Buffer.from('x') });
    assert.deepEqual(await keys(), ['after', 'big']);
    assert.equal(slots(alice), 0);
  });
});
