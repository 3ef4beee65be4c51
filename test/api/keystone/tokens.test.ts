/** Keystone v3 subset: discovery, password and application-credential tokens, validation, revocation, restart. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from '../../support/server.ts';
import { runCli } from '../../support/cli.ts';
import { createApp } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { setAdmin, setPassword } from '../../../src/services/identity/tokens.ts';

const passwordAuth = (user: string, password: string, project?: Record<string, unknown>) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, password, domain: { name: 'Default' } } } },
    ...(project ? { scope: { project } } : {}),
  },
});

async function post(base: string, body: unknown, query = '') {
  return fetch(`${base}/identity/v3/auth/tokens${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('Keystone v3', () => {
  let s: TestServer;
  let alice: Awaited<ReturnType<TestServer['account']>>;
  let root: Awaited<ReturnType<TestServer['account']>>;
  before(async () => {
    s = await startServer({ postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    alice = await s.account('alice');
    root = await s.account('root');
    await setPassword(s.app.services, 'alice', 'alice-secret-1');
    await setPassword(s.app.services, root.accountId, 'root-secret-1');
    await setAdmin(s.app.services, root.accountId, true);
  });
  after(() => s.stop());

  it('answers version discovery', async () => {
    const root300 = await fetch(`${s.endpoint}/identity`);
    assert.equal(root300.status, 300);
    assert.equal((await root300.json() as any).versions.values[0].id, 'v3.14');
    const v3 = await (await fetch(`${s.endpoint}/identity/v3`)).json() as any;
    assert.equal(v3.version.status, 'stable');
    assert.equal(v3.version.links[0].href, `${s.endpoint}/identity/v3/`);
  });

  it('issues a project-scoped token for the password method, with a catalog naming this server', async () => {
    const res = await post(s.endpoint, passwordAuth('alice', 'alice-secret-1', { name: 'alice', domain: { name: 'Default' } }));
    assert.equal(res.status, 201);
    const token = res.headers.get('x-subject-token');
    assert.ok(token && token.length >= 32);
    const { token: t } = await res.json() as any;
    assert.deepEqual(t.methods, ['password']);
    assert.equal(t.user.name, 'alice');
    assert.deepEqual(t.user.domain, { id: 'default', name: 'Default' });
    assert.equal(t.project.id, alice.accountId);
    assert.equal(t.project.name, 'alice');
    assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(Date.parse(t.expires_at) > Date.now());
    assert.deepEqual(t.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);
    const image = t.catalog.find((c: { type: string }) => c.type === 'image');
    assert.equal(image.endpoints.find((e: { interface: string }) => e.interface === 'public').url, `${s.endpoint}/image`);
    const nocat = await (await post(s.endpoint, passwordAuth('alice', 'alice-secret-1'), '?nocatalog')).json() as any;
    assert.equal(nocat.token.catalog, undefined);
  });

  it('refuses wrong passwords, unknown users, other projects and accounts without a password with 401 + WWW-Authenticate', async () => {
    for (const body of [
      passwordAuth('alice', 'wrong-password'),
      passwordAuth('nobody', 'alice-secret-1'),
      passwordAuth('alice', 'alice-secret-1', { name: 'root', domain: { name: 'Default' } }),
      passwordAuth('alice', 'alice-secret-1', { id: root.accountId }),
    ]) {
      const res = await post(s.endpoint, body);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Keystone uri="${s.endpoint}/identity"`);
      const err = await res.json() as any;
      assert.equal(err.error.code, 401);
      assert.equal(err.error.title, 'Unauthorized');
    }
    const nopw = await s.account('nopw');
    assert.equal((await post(s.endpoint, passwordAuth('nopw', ''))).status, 401);
    assert.equal((await post(s.endpoint, { auth: { identity: { methods: ['password'], password: { user: { id: nopw.accountId, password: 'x' } } } } })).status, 401);
  });

  it('accepts an AccessKey pair as an application credential', async () => {
    const res = await post(s.endpoint, { auth: { identity: { methods: ['application_credential'], application_credential: { id: alice.accessKeyId, secret: alice.accessKeySecret } } } });
    assert.equal(res.status, 201);
    const { token } = await res.json() as any;
    assert.deepEqual(token.methods, ['application_credential']);
    assert.equal(token.project.id, alice.accountId);
    assert.equal(token.application_credential.id, alice.accessKeyId);
    const bad = await post(s.endpoint, { auth: { identity: { methods: ['application_credential'], application_credential: { id: alice.accessKeyId, secret: root.accessKeySecret } } } });
    assert.equal(bad.status, 401);
  });

  it('gives admin accounts the admin role', async () => {
    const { token } = await (await post(s.endpoint, passwordAuth('root', 'root-secret-1', { name: 'root', domain: { id: 'default' } }))).json() as any;
    assert.ok(token.roles.some((r: { name: string }) => r.name === 'admin'));
  });

  it('validates and revokes tokens', async () => {
    const a = (await post(s.endpoint, passwordAuth('alice', 'alice-secret-1'))).headers.get('x-subject-token')!;
    const b = (await post(s.endpoint, passwordAuth('alice', 'alice-secret-1'))).headers.get('x-subject-token')!;
    const check = (subject: string) => fetch(`${s.endpoint}/identity/v3/auth/tokens`, { headers: { 'x-auth-token': a, 'x-subject-token': subject } });
    const ok = await check(b);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-subject-token'), b);
    assert.equal((await ok.json() as any).token.user.name, 'alice');
    const del = await fetch(`${s.endpoint}/identity/v3/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': a, 'x-subject-token': b } });
    assert.equal(del.status, 204);
    assert.equal((await check(b)).status, 404);
    const noAuth = await fetch(`${s.endpoint}/identity/v3/auth/tokens`, { headers: { 'x-subject-token': a } });
    assert.equal(noAuth.status, 401);
    // the revoked token no longer authenticates anything
    assert.equal((await fetch(`${s.endpoint}/identity/v3/auth/projects`, { headers: { 'x-auth-token': b } })).status, 401);
    const projects = await (await fetch(`${s.endpoint}/identity/v3/auth/projects`, { headers: { 'x-auth-token': a } })).json() as any;
    assert.deepEqual(projects.projects.map((p: { id: string }) => p.id), [alice.accountId]);
    const byName = await fetch(`${s.endpoint}/identity/v3/projects/root`, { headers: { 'x-auth-token': a } });
    assert.equal((await byName.json() as any).project.id, root.accountId);
  });
});

describe('Keystone tokens across a restart, and the CLI', () => {
  it('keeps tokens (hashed) and their expiry, and `account create --password-stdin --admin --json` prints the project', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-ks-'));
    try {
      const cli = await runCli(['account', 'create', '--name', 'carol', '--password-stdin', '--admin', '--json', '--data', dataDir], {}, 'carol-pass-123\n');
      assert.equal(cli.code, 0, cli.stderr);
      const made = JSON.parse(cli.stdout);
      assert.equal(made.projectId, made.accountId);
      assert.equal(made.projectName, 'carol');
      const config = loadConfig({ data: dataDir, port: '0' }, {});
      let now = Date.now();
      const clock = { now: () => now };
      let app = await createApp(config, { logger: false, worker: false, clock });
      let base = await app.server.listen({ port: 0, host: '127.0.0.1' });
      const res = await post(base, passwordAuth('carol', 'carol-pass-123'));
      assert.equal(res.status, 201);
      const token = res.headers.get('x-subject-token')!;
      assert.ok((await res.json() as any).token.roles.some((r: { name: string }) => r.name === 'admin'));
      const rows = await app.store.db.selectFrom('os_tokens').selectAll().execute();
      assert.ok(rows.every((r) => r.token_hash !== token && r.token_hash.length === 64));
      const pw = await app.store.db.selectFrom('accounts').select('password_hash').where('name', '=', 'carol').executeTakeFirstOrThrow();
      assert.match(pw.password_hash!, /^scrypt\$/);
      assert.ok(!pw.password_hash!.includes('carol-pass-123'));
      await app.close();

      app = await createApp(config, { logger: false, worker: false, clock });
      base = await app.server.listen({ port: 0, host: '127.0.0.1' });
      const check = () => fetch(`${base}/identity/v3/auth/tokens`, { headers: { 'x-auth-token': token, 'x-subject-token': token } });
      assert.equal((await check()).status, 200);
      now += 3600_000 + 1;
      assert.equal((await check()).status, 401);
      await app.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
