/** Readiness of this node for a load balancer: the metadata store, each region's chunk store and the job worker. */
import { sql } from 'kysely';
import type { Services } from './context.ts';
import type { WorkerHealth } from '../jobs/worker.ts';

export interface Check {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface Health {
  ok: boolean;
  checks: { store: Check; chunkStores: Record<string, Check>; worker: Check & { running?: number; enabled: boolean } };
}

/** Any ref: probing for it exercises the store's read path without needing the chunk to exist. */
const PROBE_REF = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const PROBE_TIMEOUT_MS = 5000;

async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([probe(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS); })]);
    return { ok: true, ms: Math.round(performance.now() - start) };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - start), error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** A worker is healthy while its loop keeps making progress: a stall of several polls (or a failing queue) is not. */
function workerCheck(probe: WorkerHealth | undefined, now: number): Health['checks']['worker'] {
  if (!probe) return { ok: true, ms: 0, enabled: false };
  const idleMs = now - probe.aliveAt;
  const limit = Math.max(10_000, probe.pollMs * 8);
  const ok = !probe.claimFailing && idleMs <= limit;
  return { ok, ms: idleMs, enabled: true, running: probe.running, ...(ok ? {} : { error: probe.claimFailing ? 'the job queue refuses claims' : `no progress for ${idleMs} ms` }) };
}

export async function checkHealth(services: Pick<Services, 'db' | 'regions' | 'dataPlane'>, worker: WorkerHealth | undefined): Promise<Health> {
  const [store, ...stores] = await Promise.all([
    timed(() => sql`select 1`.execute(services.db)),
    ...services.regions.all.map((r) => timed(() => services.dataPlane.store(r.id).has(PROBE_REF))),
  ]);
  const chunkStores = Object.fromEntries(services.regions.all.map((r, i) => [r.id, stores[i]]));
  const w = workerCheck(worker, Date.now());
  return { ok: store.ok && stores.every((c) => c.ok) && w.ok, checks: { store, chunkStores, worker: w } };
}
