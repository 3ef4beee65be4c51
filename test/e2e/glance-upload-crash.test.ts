/** A Glance PUT /file cut off by kill -9 mid-body: after the restart the image is queued again and takes a new upload. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { spawnServer } from '../support/child-server.ts';
import { keystoneToken } from '../support/keystone.ts';
import { glanceCall } from '../support/glance.ts';
import { waitFor } from '../support/wait.ts';

const MiB = 1024 * 1024;

test('a PUT /file killed mid-body leaves the image queued after the restart, and a new upload fills it', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-glance-crash-'));
  const env = { IMAGEHOUSE_JOB_LEASE_MS: '1500' };
  let server = await (async () => {
    const app = await createApp(loadConfig({ data: dataDir }, {}), { logger: false, worker: false });
    const alice = await createAccount(app.services, { name: 'alice' });
    await app.close();
    return { alice, child: await spawnServer(dataDir, env) };
  })();
  try {
    let token = await keystoneToken(server.child.endpoint, server.alice);
    const call = (method: string, p: string, body?: unknown, type?: string) => glanceCall(server.child.endpoint, token, method, p, body, type);
    const id = (await call('POST', '/v2/images', { name: 'crash', disk_format: 'raw', container_format: 'bare' })).json.id as string;

    const req = http.request(new URL(`${server.child.endpoint}/image/v2/images/${id}/file`), {
      method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', 'content-length': String(32 * MiB) },
    });
    req.on('error', () => {});
    req.write(crypto.randomBytes(6 * MiB));
    await waitFor(async () => (await call('GET', `/v2/images/${id}`)).json.status === 'saving', { what: 'the upload to start' });
    await server.child.kill9();
    req.destroy();

    server = { ...server, child: await spawnServer(dataDir, env) };
    token = await keystoneToken(server.child.endpoint, server.alice);
    const img = await waitFor(async () => {
      const got = (await call('GET', `/v2/images/${id}`)).json;
      return got.status === 'queued' ? got : undefined;
    }, { what: 'the image to be queued again' });
    assert.equal(img.os_glance_failed_import, undefined);

    const bytes = crypto.randomBytes(5 * MiB + 512);
    assert.equal((await call('PUT', `/v2/images/${id}/file`, bytes, 'application/octet-stream')).status, 204);
    const done = (await call('GET', `/v2/images/${id}`)).json;
    assert.equal(done.status, 'active');
    assert.equal(done.os_hash_value, crypto.createHash('sha512').update(bytes).digest('hex'));
    assert.ok((await call('GET', `/v2/images/${id}/file`)).bytes.equals(bytes));
  } finally {
    await server.child.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
