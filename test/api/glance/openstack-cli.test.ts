/** The real `openstack` CLI (python3-openstackclient) against the server: password and application-credential auth. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from '../../support/server.ts';
import { setPassword } from '../../../src/services/identity/tokens.ts';
import { requires } from '../../support/requires.ts';

const skip = requires('openstack');

function osc(env: Record<string, string>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openstack', args, { env: { PATH: process.env.PATH!, HOME: env.HOME, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openstack ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

describe('openstack CLI', { skip }, () => {
  let s: TestServer;
  let dir: string;
  let a: Awaited<ReturnType<TestServer['account']>>;
  let b: Awaited<ReturnType<TestServer['account']>>;
  before(async () => {
    s = await startServer();
    a = await s.account('osca');
    b = await s.account('oscb');
    await setPassword(s.app.services, 'osca', 'osca-password');
    await setPassword(s.app.services, 'oscb', 'oscb-password');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-osc-'));
  });
  after(async () => {
    await s?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const common = () => ({ HOME: dir, OS_AUTH_URL: `${s.endpoint}/identity/v3`, OS_IDENTITY_API_VERSION: '3', OS_INTERFACE: 'public' });
  const password = (user: string, pw: string) => ({
    ...common(), OS_USERNAME: user, OS_PASSWORD: pw, OS_PROJECT_NAME: user, OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default',
  });
  const appCred = (acc: { accessKeyId: string; accessKeySecret: string }) => ({
    ...common(), OS_AUTH_TYPE: 'v3applicationcredential', OS_APPLICATION_CREDENTIAL_ID: acc.accessKeyId, OS_APPLICATION_CREDENTIAL_SECRET: acc.accessKeySecret,
  });

  for (const method of ['application credential', 'password'] as const) {
    it(`creates, lists, shows, saves, sets, shares and deletes an image (${method})`, async () => {
      const envA = method === 'password' ? password('osca', 'osca-password') : appCred(a);
      const envB = method === 'password' ? password('oscb', 'oscb-password') : appCred(b);
      const file = path.join(dir, 'disk.raw');
      const bytes = crypto.randomBytes(2 * 1024 * 1024);
      fs.writeFileSync(file, bytes);
      const name = `osc-${method.replace(' ', '-')}`;
      const created = JSON.parse(await osc(envA, ['image', 'create', '--disk-format', 'raw', '--container-format', 'bare', '--file', file, '-f', 'json', name]));
      const id: string = created.id;
      assert.ok(id);
      const list = JSON.parse(await osc(envA, ['image', 'list', '-f', 'json']));
      assert.ok(list.some((i: { ID: string }) => i.ID === id));
      const shown = JSON.parse(await osc(envA, ['image', 'show', '-f', 'json', id]));
      assert.equal(shown.status, 'active');
      assert.equal(shown.checksum, crypto.createHash('md5').update(bytes).digest('hex'));
      const saved = path.join(dir, 'saved.raw');
      await osc(envA, ['image', 'save', '--file', saved, id]);
      assert.ok(fs.readFileSync(saved).equals(bytes));
      await osc(envA, ['image', 'set', '--property', 'os_distro=debian', '--tag', 'blue', id]);
      const set = JSON.parse(await osc(envA, ['image', 'show', '-f', 'json', id]));
      assert.deepEqual(set.tags, ['blue']);
      assert.equal((set.properties ?? set).os_distro, 'debian');
      await osc(envA, ['image', 'add', 'project', id, 'oscb']);
      await osc(envB, ['image', 'set', '--accept', id]);
      const seen = JSON.parse(await osc(envB, ['image', 'list', '-f', 'json']));
      assert.ok(seen.some((i: { ID: string }) => i.ID === id));
      const members = await s.app.services.db.selectFrom('image_shares').select('account_id').where('image_id', '=', id).execute();
      assert.deepEqual(members.map((m) => m.account_id), [b.accountId]);
      await osc(envA, ['image', 'delete', id]);
      const after = JSON.parse(await osc(envA, ['image', 'list', '-f', 'json']));
      assert.ok(!after.some((i: { ID: string }) => i.ID === id));
    });
  }
});
