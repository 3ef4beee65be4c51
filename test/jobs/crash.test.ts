/**
 * kill -9 in the middle of a job: a second process re-claims it after the lease expires and resumes
 * from the last checkpoint, without redoing any checkpointed step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/db.ts';
import { JobQueue, parseJson } from '../../src/jobs/index.ts';
import { freshPostgresDatabase, postgresBaseUrl } from '../support/stores.ts';
import { waitFor } from '../support/wait.ts';
import { requires } from '../support/requires.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures', 'step-worker.ts');
const repoRoot = path.resolve(here, '..', '..');
const STEPS = 10;
const LEASE_MS = 1000;

interface Child { proc: ChildProcess; output: () => string; exited: Promise<number | null> }

function spawnWorker(target: string, jobId: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, target, jobId, String(LEASE_MS)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

async function crashAndResume(store: Store, target: string): Promise<void> {
  await sql`create table step_log (job_id varchar(64) not null, step integer not null, pid integer not null, attempt integer not null)`.execute(store.db);
  const queue = new JobQueue(store.db, store.dialect);
  const { id } = await queue.enqueue(store.db, { kind: 'steps', region: 'cn-hangzhou', accountId: '1234567890123456', payload: { steps: STEPS, stepMs: 150 }, maxAttempts: 5 });
  const nextOf = async () => (parseJson((await queue.get(id))!.result).next as number | undefined) ?? 0;

  const first = spawnWorker(target, id);
  try {
    await waitFor(async () => (await nextOf()) >= 3 || first.proc.exitCode !== null);
    assert.equal(first.proc.exitCode, null, `the first worker ended early:\n${first.output()}`);
  } finally {
    first.proc.kill('SIGKILL');
  }
  await first.exited;
  const atKill = await queue.get(id);
  const nextAtKill = (parseJson(atKill!.result).next as number) ?? 0;
  assert.equal(atKill?.state, 'running', 'the killed worker still holds the lease');
  assert.ok(nextAtKill >= 3 && nextAtKill < STEPS, `killed mid-job (at step ${nextAtKill})`);

  const second = spawnWorker(target, id);
  const hang = setTimeout(() => second.proc.kill('SIGKILL'), 60_000);
  const code = await second.exited;
  clearTimeout(hang);
  assert.equal(code, 0, `the second worker failed:\n${second.output()}`);

  const done = await queue.get(id);
  assert.equal(done?.state, 'succeeded');
  assert.equal(done.attempts, 2, 'one claim by each process');
  assert.equal(done.progress, 100);
  assert.deepEqual(parseJson(done.result), { next: STEPS, done: true });

  const { rows } = await sql<{ step: number; pid: number; attempt: number }>`select step, pid, attempt from step_log where job_id = ${id} order by step`.execute(store.db);
  assert.deepEqual(rows.map((r) => Number(r.step)), Array.from({ length: STEPS }, (_, i) => i), 'every step ran exactly once');
  for (const r of rows) {
    const expected = r.step < nextAtKill ? [first.proc.pid, 1] : [second.proc.pid, 2];
    assert.deepEqual([r.pid, r.attempt], expected, `step ${r.step} ran in the right process`);
  }
}

test('sqlite (file, WAL): a job killed with -9 resumes from its checkpoint in a new process', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-jobs-'));
  const file = path.join(dir, 'meta.db');
  const store = await openStore({ sqlitePath: file });
  try {
    await crashAndResume(store, file);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const base = postgresBaseUrl();
test('postgres: a job killed with -9 resumes from its checkpoint in a new process',
  { skip: requires('postgres') }, async () => {
    const { url, drop } = await freshPostgresDatabase(base!);
    const store = await openStore({ databaseUrl: url });
    try {
      await crashAndResume(store, url);
    } finally {
      await store.close();
      await drop();
    }
  });
