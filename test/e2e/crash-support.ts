/**
 * Shared by the kill -9 suites: the service as a child process on a given store (SQLite in the data directory,
 * or PostgreSQL), an account made with the CLI, and the end-state check that nothing leaked.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import type { Store } from '../../src/store/db.ts';
import { KyselyChunkIndex } from '../../src/blobs/chunk-index.ts';
import { reclaimExpiredReadHolds } from '../../src/blobs/read-holds.ts';
import { FsChunkStore } from '../../src/blobs/fs-store.ts';
import { collectGarbage } from '../../src/blobs/gc.ts';
import { decodeManifestBody } from '../../src/blobs/manifests.ts';

/** The service's GC claim lease (KyselyChunkIndex's default). */
const CLAIM_LEASE_MS = 10 * 60_000;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Service { proc: ChildProcess; endpoint: string; hostPort: string; exited: Promise<number | null>; output(): string }

export async function startService(dataDir: string, databaseUrl: string, leaseMs: number, env: Record<string, string> = {}): Promise<Service> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--nbd-port', '0', '--data', dataDir], {
    cwd: repoRoot,
    env: { ...process.env, IMAGEHOUSE_JOB_LEASE_MS: String(leaseMs), IMAGEHOUSE_DATABASE_URL: databaseUrl, IMAGEHOUSE_LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), 120_000);
    const check = () => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stderr!.on('data', check);
    proc.on('exit', () => { clearTimeout(timer); reject(new Error(`service exited:\n${out}`)); });
  });
  return { proc, endpoint, hostPort: new URL(endpoint).host, exited, output: () => out };
}

export async function kill9(s: Service): Promise<void> {
  s.proc.kill('SIGKILL');
  await s.exited;
}

export async function stop(s: Service): Promise<void> {
  s.proc.kill('SIGTERM');
  await s.exited;
}

export function running(s: Service): boolean {
  return s.proc.exitCode === null && s.proc.signalCode === null;
}

export async function createAccount(dataDir: string, databaseUrl: string, name = 'alice') {
  let json = '';
  const code = await main(['account', 'create', '--name', name, '--json', '--data', dataDir], {
    out: (l) => { json += l; }, err: () => {}, isTTY: false, env: { IMAGEHOUSE_DATABASE_URL: databaseUrl },
  });
  assert.equal(code, 0);
  return JSON.parse(json) as { accountId: string; accessKeyId: string; accessKeySecret: string };
}

/**
 * After the GC reclaims everything unreferenced: every stored chunk is referenced by a manifest, every
 * chunk's refcount counts exactly the manifests' references, and every manifest is held by a snapshot or disk.
 */
export async function assertNoLeaks(store: Store, dataDir: string, region: string): Promise<void> {
  // The service is stopped. A collector killed mid-run leaves its claims until their lease ends, so the check
  // runs as if that time had passed and takes them over.
  const afterLeases = () => Date.now() + CLAIM_LEASE_MS + 60_000;
  const index = new KyselyChunkIndex(store.db, { now: afterLeases, leaseMs: CLAIM_LEASE_MS });
  const chunks = new FsChunkStore(path.join(dataDir, 'chunks', region));
  try {
    // Likewise the read holds of exports and reads the kill cut short.
    await reclaimExpiredReadHolds(store.db, afterLeases());
    await collectGarbage({ index, store: chunks, region, graceMs: 0, sweepOrphans: true, now: afterLeases });
    const manifests = await store.db.selectFrom('manifests').selectAll().where('region', '=', region).execute();
    const refs = new Map<string, number>();
    for (const m of manifests) {
      for (const e of decodeManifestBody(Number(m.virtual_size), m.body).entries) refs.set(e.ref, (refs.get(e.ref) ?? 0) + 1);
      const held = await store.db.selectFrom('snapshots').select('id').where('manifest_id', '=', m.id).execute();
      const disks = await store.db.selectFrom('disks').select('id').where('manifest_id', '=', m.id).execute();
      assert.equal(m.holders, held.length + disks.length, `manifest ${m.id} is held by exactly its snapshots and disks`);
    }
    const rows = await store.db.selectFrom('chunks').selectAll().where('region', '=', region).execute();
    assert.deepEqual(new Map(rows.map((r) => [r.ref, [r.refcount, r.state]])), new Map([...refs].map(([ref, n]) => [ref, [n, 'live']])));
    const stored: string[] = [];
    for await (const ref of chunks.list()) stored.push(ref);
    assert.deepEqual(stored.sort(), [...refs.keys()].sort(), 'the chunk store holds exactly the referenced chunks');
  } finally {
    await chunks.close();
  }
}
