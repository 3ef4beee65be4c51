/** Glance's tasks API: admin-only, `import` tasks through the guarded web-download, list filters and paging, api_image_import tasks listed too. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, type TestServer } from '../../support/server.ts';
import { keystoneToken } from '../../support/keystone.ts';
import { glanceCall, startFileServer, type FileServer } from '../../support/glance.ts';
import { waitFor } from '../../support/wait.ts';
import { setAdmin } from '../../../src/services/identity/tokens.ts';

type Any = any;

describe('Glance tasks', () => {
  const served = crypto.randomBytes(512 * 1024 + 9);
  let files: FileServer;
  let filesPort: number;
  let s: TestServer;
  let admin: string;
  let user: string;

  before(async () => {
    files = await startFileServer((req, res) => {
      if (req.url === '/disk.raw') res.writeHead(200, { 'content-length': served.length }).end(served);
      else res.writeHead(404).end();
    });
    filesPort = files.port;
    // On PostgreSQL too when IMAGEHOUSE_TEST_DATABASE_URL is set: the list's keyset paging runs in SQL.
    s = await startServer({ env: { IMAGEHOUSE_IMPORT_ALLOWED_HOSTS: `127.0.0.1:${filesPort}` }, postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined });
    const root = await s.account('task-admin');
    await setAdmin(s.app.services, root.accountId, true);
    admin = await keystoneToken(s.endpoint, root);
    user = await keystoneToken(s.endpoint, await s.account('task-user'));
  });
  after(async () => {
    await s?.stop();
    files?.close();
  });

  const call = (token: string, method: string, path: string, body?: unknown) => glanceCall(s.endpoint, token, method, path, body);
  const task = (uri: string, props: Record<string, unknown> = { name: 'from-task' }) => call(admin, 'POST', '/v2/tasks', {
    type: 'import', input: { import_from: uri, import_from_format: 'raw', image_properties: props },
  });
  const settled = (id: string) => waitFor(async () => {
    const t = (await call(admin, 'GET', `/v2/tasks/${id}`)).json;
    return t.status === 'success' || t.status === 'failure' ? t : undefined;
  }, { what: `task ${id}` });

  it('an import task creates the image and fills it from import_from', async () => {
    const made = await task(`http://127.0.0.1:${filesPort}/disk.raw`, { name: 'from-task', os_distro: 'debian' });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.deepEqual([made.json.type, made.json.status, made.json.self], ['import', 'pending', `/v2/tasks/${made.json.id}`]);
    const done = await settled(made.json.id);
    assert.equal(done.status, 'success', done.message);
    assert.deepEqual(done.input.image_properties, { name: 'from-task', os_distro: 'debian' });
    const img = (await call(admin, 'GET', `/v2/images/${done.result.image_id}`)).json;
    assert.deepEqual([img.name, img.status, img.disk_format, img.os_distro, img.size], ['from-task', 'active', 'raw', 'debian', served.length]);
    assert.equal(img.os_hash_value, crypto.createHash('sha512').update(served).digest('hex'));
  });

  it('import_from passes the web-download checks when the task runs (OSSN-0105): a refused URI fails the task', async () => {
    const made = await task('http://169.254.169.254/latest/meta-data/');
    assert.equal(made.status, 201);
    const done = await settled(made.json.id);
    assert.equal(done.status, 'failure');
    assert.match(done.message, /does not pass filtering/);
    assert.equal(done.result, null);
  });

  it('refuses non-admins and malformed tasks', async () => {
    assert.equal((await call(user, 'GET', '/v2/tasks')).status, 403);
    assert.equal((await call(user, 'POST', '/v2/tasks', { type: 'import', input: {} })).status, 403);
    assert.equal((await call(admin, 'POST', '/v2/tasks', { type: 'export', input: {} })).status, 400);
    assert.equal((await call(admin, 'POST', '/v2/tasks', { type: 'import', input: { import_from: 'http://x/', import_from_format: 'nope' } })).status, 400);
    assert.equal((await call(admin, 'GET', '/v2/tasks/not-a-task')).status, 404);
  });

  it('lists tasks of both types, filtered, sorted and paged by marker; the list leaves out input and result', async () => {
    const img = (await call(admin, 'POST', '/v2/images', { name: 'wd', disk_format: 'raw', container_format: 'bare' })).json;
    assert.equal((await call(admin, 'POST', `/v2/images/${img.id}/import`, { method: { name: 'web-download', uri: `http://127.0.0.1:${filesPort}/disk.raw` } })).status, 202);
    const [own] = (await call(admin, 'GET', `/v2/images/${img.id}/tasks`)).json.tasks;
    await settled(own.id);
    const all = (await call(admin, 'GET', '/v2/tasks')).json.tasks;
    assert.ok(all.length >= 3);
    assert.ok(all.some((t: Any) => t.id === own.id && t.type === 'api_image_import'));
    assert.ok(all.every((t: Any) => !('input' in t) && !('result' in t)));
    const created = all.map((t: Any) => t.created_at);
    assert.deepEqual(created, [...created].sort().reverse(), 'newest first by default');
    const imports = (await call(admin, 'GET', '/v2/tasks?type=import&status=failure')).json.tasks;
    assert.ok(imports.length >= 1 && imports.every((t: Any) => t.type === 'import' && t.status === 'failure'));
    const seen: string[] = [];
    let next = '/v2/tasks?limit=1&sort_dir=asc';
    while (next) {
      const page = (await call(admin, 'GET', next)).json;
      seen.push(...page.tasks.map((t: Any) => t.id));
      next = page.next;
    }
    assert.deepEqual(seen, [...all.map((t: Any) => t.id)].reverse());
    assert.equal((await call(admin, 'GET', '/v2/tasks?sort_key=name')).status, 400);
  });
});
