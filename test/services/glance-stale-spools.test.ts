/**
 * What a node removes from its uploads folder at start: Glance stages no image points at any more (deleted while
 * staged, or given up by another node while this one was down) and upload spools whose job has finished. A stage
 * still waiting for its import, and files that are not Glance's, stay.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type TestServer } from '../support/server.ts';
import { keystoneToken } from '../support/keystone.ts';
import { removeStaleSpools } from '../../src/services/glance/stale-spools.ts';

let server: TestServer;
let token: string;

before(async () => {
  server = await startServer();
  token = await keystoneToken(server.endpoint, await server.account('spools'));
});
after(() => server?.stop());

async function call(method: string, p: string, body?: Buffer | object): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.endpoint}/image${p}`, {
    method,
    headers: { 'x-auth-token': token, ...(body ? { 'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json' } : {}) },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function staged(): Promise<{ id: string; file: string }> {
  const id = (await call('POST', '/v2/images', { name: 's', disk_format: 'raw', container_format: 'bare' })).json.id as string;
  assert.equal((await call('PUT', `/v2/images/${id}/stage`, crypto.randomBytes(4096))).status, 204);
  const file = path.join(server.app.services.dirs.uploads, `glance-stage-${id}`);
  assert.ok(fs.existsSync(file));
  return { id, file };
}

test('stale Glance spools are removed; a pending stage and other uploads stay', async () => {
  const waiting = await staged();
  const deleted = await staged();
  assert.equal((await call('DELETE', `/v2/images/${deleted.id}`)).status, 204);
  const uploads = server.app.services.dirs.uploads;
  const finishedUpload = path.join(uploads, 'glance-upload-i-doesnotexist');
  const otherUpload = path.join(uploads, 'not-glance');
  fs.writeFileSync(finishedUpload, 'x');
  fs.writeFileSync(otherUpload, 'x');

  assert.equal(await removeStaleSpools(server.app.services), 2);
  assert.ok(fs.existsSync(waiting.file), 'a stage waiting for its import stays');
  assert.ok(!fs.existsSync(deleted.file), "a deleted image's stage is removed");
  assert.ok(!fs.existsSync(finishedUpload), 'an upload spool without a running job is removed');
  assert.ok(fs.existsSync(otherUpload), 'files that are not Glance spools stay');

  // The stage kept is still imported.
  assert.equal((await call('POST', `/v2/images/${waiting.id}/import`, { method: { name: 'glance-direct' } })).status, 202);
});
