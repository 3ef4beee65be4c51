/**
 * `npm start` / `imagehouse serve` as a person runs it: it stops on SIGTERM and SIGINT sent to the process the
 * README starts (npm), within a bound even with a request in flight; and each startup failure is one line, an
 * exit code, and nothing created.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { EXIT } from '../../src/cli/command.ts';
import { signHeaders } from '../../src/cli/api.ts';
import { UNSIGNED_PAYLOAD } from '../../src/api/ecs/auth.ts';
import { freePort } from '../support/ports.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-serve-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const quietEnv = { IMAGEHOUSE_LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** The pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** `npm start -- …` in the checkout, as the README says; resolves once the server printed its address. */
async function npmStart(dataDir: string): Promise<{ npm: ChildProcess; port: number; exited: Promise<number | null> }> {
  const npm = spawn('npm', ['start', '--', '--port', '0', '--nbd-port', '0', '--data', dataDir], { cwd: ROOT, env: { ...process.env, ...quietEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
  let err = '';
  npm.stderr!.on('data', (d) => { err += d; });
  const port = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1], { what: `the server to listen: ${err}`, timeoutMs: 120_000 });
  return { npm, port: Number(port), exited };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to the npm start process stops the server, even with an upload in flight`, async (t) => {
    const dataDir = path.join(dir, `data-${signal}`);
    const account = JSON.parse((await runCli(['account', 'create', '--name', 'up', '--json', '--data', dataDir], quietEnv)).stdout);
    const { npm, port, exited } = await npmStart(dataDir);
    const server = childrenOf(npm.pid!)[0];
    t.after(() => { for (const pid of [server, npm.pid!]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL'); });
    const cfg = { endpoint: `http://127.0.0.1:${port}`, region: 'cn-hangzhou', accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
    const bucket = await runCli(['bucket', 'create', 'uploads'], { IMAGEHOUSE_ENDPOINT: cfg.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: cfg.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: cfg.accessKeySecret, IMAGEHOUSE_CONFIG: path.join(dir, 'none.json') });
    assert.equal(bucket.code, EXIT.ok, bucket.stderr);
    // With `exec` in the start script the server is npm's direct child, so npm's forwarded signal reaches it.
    assert.deepEqual(childrenOf(npm.pid!), [server], 'npm runs the server as its only child');
    assert.match(fs.readFileSync(`/proc/${server}/cmdline`, 'utf8'), /bin\/imagehouse\.js\0serve/);

    // A request that never finishes sending its body holds the HTTP server open until it is cut off.
    const upload = net.connect(port, '127.0.0.1');
    await new Promise((r) => upload.once('connect', r));
    upload.on('error', () => {});
    const headers = signHeaders(cfg, 'PUT', '/buckets/uploads/object', [['Key', 'k']], {}, UNSIGNED_PAYLOAD);
    upload.write([`PUT /buckets/uploads/object?Key=k HTTP/1.1`, `host: 127.0.0.1:${port}`, 'content-length: 104857600', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n');
    upload.write(Buffer.alloc(64 * 1024));
    const uploadClosed = new Promise((r) => upload.once('close', r));

    npm.kill(signal);
    await waitFor(() => !alive(server), { what: 'the server process to exit', timeoutMs: 15_000 });
    await exited;
    await uploadClosed;
    assert.equal(await accepts(port), false, 'nothing listens on the port any more');
  });
}

/** Holds a port on 127.0.0.1 for the duration of `fn`. */
async function holdingPort(fn: (port: number) => Promise<void>): Promise<void> {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  try {
    await fn((holder.address() as net.AddressInfo).port);
  } finally {
    holder.close();
  }
}

test('a port in use: one line with a hint, exit 10, no data directory created', async () => {
  await holdingPort(async (port) => {
    const dataDir = path.join(dir, 'never-created');
    const r = await runCli(['serve', '--port', String(port), '--nbd-port', '0', '--data', dataDir], quietEnv);
    assert.equal(r.code, EXIT.portInUse);
    assert.equal(r.stderr, `imagehouse: port ${port} is in use (try --port)\n`);
    assert.equal(fs.existsSync(dataDir), false, 'nothing is created before the port is bound');

    const nbd = await runCli(['serve', '--port', '0', '--nbd-port', String(port), '--data', dataDir], quietEnv);
    assert.equal(nbd.code, EXIT.portInUse);
    assert.equal(nbd.stderr, `imagehouse: port ${port} is in use (try --nbd-port)\n`);
    assert.equal(fs.existsSync(dataDir), false);
  });
});

test('an unusable data directory, a bad or unreachable database, an unreachable S3: one line each, their exit codes', async () => {
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const serve = (args: string[], env: Record<string, string> = {}) => runCli(['serve', '--port', '0', '--nbd-port', '0', ...args], { ...quietEnv, ...env });
  const oneLine = (stderr: string, pattern: RegExp) => {
    assert.equal(stderr.split('\n').filter(Boolean).length, 1, stderr);
    assert.match(stderr, pattern);
  };

  const notDir = await serve(['--data', path.join(file, 'data')]);
  assert.equal(notDir.code, EXIT.dataDir);
  oneLine(notDir.stderr, /^imagehouse: cannot use the data directory .*a-file\/data: .*a-file is not a directory \(check --data or IMAGEHOUSE_DATA\)$/m);

  const unusedDir = path.join(dir, 'unused');
  const badUrl = await serve(['--data', unusedDir, '--database-url', 'mysql://u:secret-pw@db/x']);
  assert.equal(badUrl.code, EXIT.database);
  oneLine(badUrl.stderr, /^imagehouse: the database URL must look like postgres:\/\/.*, not mysql:\/\/u:\*\*\*@db\/x/m);
  assert.doesNotMatch(badUrl.stderr, /secret-pw/);

  const closed = await freePort();
  const unreachable = await serve(['--data', unusedDir, '--database-url', `postgres://u:secret-pw@127.0.0.1:${closed}/db`]);
  assert.equal(unreachable.code, EXIT.database);
  oneLine(unreachable.stderr, new RegExp(`^imagehouse: cannot use the database postgres://u:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/db: .*ECONNREFUSED`, 'm'));
  assert.equal(fs.existsSync(unusedDir), false, 'nothing is created for a database that cannot be used');

  const s3 = await serve(['--data', path.join(dir, 's3-data')], { IMAGEHOUSE_S3_ENDPOINT: `http://127.0.0.1:${closed}`, IMAGEHOUSE_S3_ACCESS_KEY_ID: 'k', IMAGEHOUSE_S3_SECRET_ACCESS_KEY: 's' });
  assert.equal(s3.code, EXIT.objectStore);
  oneLine(s3.stderr, new RegExp(`^imagehouse: cannot reach S3 at http://127\\.0\\.0\\.1:${closed} \\(bucket imagehouse\\): .*\\(check IMAGEHOUSE_S3_ENDPOINT and its keys\\)$`, 'm'));
});

test('account create says where it wrote; keys from another data directory fail with a hint that says why', async () => {
  const cliData = path.join(dir, 'cli-data');
  const made = await runCli(['account', 'create', '--name', 'dora', '--json', '--data', cliData], quietEnv);
  assert.equal(made.code, EXIT.ok, made.stderr);
  const account = JSON.parse(made.stdout);
  assert.equal(account.storedIn, `${path.join(cliData, 'imagehouse.db')} (SQLite in the data directory)`);
  assert.match(made.stderr, /a server accepts these keys only with the same data directory \(--data .*cli-data\)/);

  const human = await runCli(['account', 'create', '--name', 'eve', '--data', cliData], quietEnv);
  assert.match(human.stdout, /^Stored in: +.*cli-data\/imagehouse\.db \(SQLite in the data directory\)/m);

  const { npm, port, exited } = await npmStart(path.join(dir, 'server-data'));
  try {
    const listed = await runCli(['image', 'list'], { IMAGEHOUSE_ENDPOINT: `http://127.0.0.1:${port}`, IMAGEHOUSE_ACCESS_KEY_ID: account.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: account.accessKeySecret, IMAGEHOUSE_CONFIG: path.join(dir, 'none.json') });
    assert.equal(listed.code, EXIT.auth);
    assert.match(listed.stderr, /InvalidAccessKeyId\.NotFound[\s\S]*hint: .*same data directory \(--data, IMAGEHOUSE_DATA\)/);
  } finally {
    npm.kill('SIGTERM');
    await exited;
  }
});

