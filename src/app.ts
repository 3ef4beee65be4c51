/** The one app factory: wires config into the store, services and HTTP surfaces. `listen()` lives in the CLI. */
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { openStore, type Store } from './store/db.ts';
import { loadInstanceTypes, loadPublicImages, loadRegions } from './domain/catalog/index.ts';
import { Regions } from './domain/regions.ts';
import { createSecretBox, loadMasterKey, type SecretBox } from './services/secret-box.ts';
import { ensureSystemAccount } from './services/accounts.ts';
import { seedPublicImages } from './services/catalog-seed.ts';
import type { Clock, Services } from './services/context.ts';
import { registerEcsGateway, type GatewayDeps } from './api/ecs/gateway.ts';
import { registerDiskRoutes } from './api/disks/routes.ts';
import { registerTransferRoutes } from './api/transfer/routes.ts';
import { registerBillingRoutes } from './api/billing/routes.ts';
import { startMeterTimer } from './services/billing/meter.ts';
import { registerConsole } from './console/routes.ts';
import { createDataPlane } from './services/data-plane.ts';
import { JobQueue, startWorker, type Worker } from './jobs/index.ts';
import type { JobKind } from './services/job-kinds.ts';
import { imageJobKinds } from './services/images/jobs.ts';
import { transferJobKinds } from './services/transfer/jobs.ts';
import { withApiErrors } from './services/errors.ts';
import os from 'node:os';
import { collectGarbage } from './blobs/gc.ts';
import { sweepOrphanManifests } from './services/manifest-sweep.ts';
import { clientErrorHandler, registerHttpErrors } from './api/http-errors.ts';

export interface App {
  server: FastifyInstance;
  services: Services;
  store: Store;
  box: SecretBox;
  close(): Promise<void>;
}

export interface AppOptions {
  clock?: Clock;
  logger?: boolean;
  /** Run the job worker in this process (default true). */
  worker?: boolean;
  /** Job lease; a crashed worker's jobs are resumed this long after its last heartbeat. */
  jobLeaseMs?: number;
}

export function loadRegionTable(config: Pick<Config, 'regionsFile'>): Regions {
  const infos = config.regionsFile ? loadRegions(config.regionsFile) : loadRegions();
  return new Regions(infos.map((r) => ({ id: r.RegionId, infix: r.IdInfix, endpoint: r.RegionEndpoint, localNames: r.LocalName, zones: r.Zones })));
}

/** Opens the metadata store the way the server and the administrative CLI both do. */
export function openConfiguredStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Store> {
  return openStore({ databaseUrl: config.databaseUrl || undefined, sqlitePath: path.join(config.dataDir, 'imagehouse.db') });
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const clock = opts.clock ?? { now: () => Date.now() };
  const store = await openConfiguredStore(config);
  const regions = loadRegionTable(config);
  const regionInfos = loadRegions(config.regionsFile || undefined);
  const catalog = config.publicImagesFile ? loadPublicImages(config.publicImagesFile, regionInfos) : loadPublicImages(undefined, regionInfos);
  const box = createSecretBox(loadMasterKey(config.dataDir, config.masterKey));
  const systemAccount = await ensureSystemAccount(store.db);
  await seedPublicImages(store.db, systemAccount, catalog, regions);

  const dataPlane = await createDataPlane(config, store.db, () => clock.now());
  let worker: Worker | undefined;
  let kinds: Record<string, JobKind> = {};
  const jobs = new JobQueue(store.db, store.dialect, clock, {
    onFinished: async (trx, job) => kinds[job.kind]?.onFinished?.(trx, job),
  });

  const services: Services = {
    db: store.db,
    dialect: store.dialect,
    regions,
    instanceTypes: loadInstanceTypes(undefined, regionInfos),
    clock,
    limits: { imageQuota: config.imageQuota },
    dataDir: config.dataDir,
    dataPlane,
    jobs,
    wakeWorker: () => worker?.wake(),
    imagesInUse: async (region, ids) => {
      let q = store.db.selectFrom('instances').select('image_id').distinct().where('region', '=', region);
      if (ids) {
        if (ids.length === 0) return new Set<string>();
        q = q.where('image_id', 'in', ids);
      }
      return new Set((await q.execute()).map((r) => r.image_id));
    },
  };
  kinds = { ...imageJobKinds(services), ...transferJobKinds(services) };

  const server = Fastify({ logger: opts.logger === false ? false : { level: config.logLevel }, clientErrorHandler });
  registerHttpErrors(server);
  const deps: GatewayDeps = { services, box, maxClockSkewMs: config.maxClockSkewMs };
  await server.register(async (scope) => registerEcsGateway(scope, deps));
  await server.register(async (scope) => registerDiskRoutes(scope, deps));
  await server.register(async (scope) => registerTransferRoutes(scope, deps));
  await server.register(async (scope) => registerBillingRoutes(scope, deps));
  const stopMeter = startMeterTimer(services, { onError: (e) => server.log.warn({ err: e }, 'metering failed') });
  await server.register(async (scope) => registerConsole(scope, deps));

  if (opts.worker !== false) {
    worker = startWorker({
      queue: jobs,
      owner: `${os.hostname().slice(0, 30)}-${process.pid}`,
      handlers: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, withApiErrors(v.handler)])),
      leaseMs: opts.jobLeaseMs ?? config.jobLeaseMs,
      pollMs: 250,
      concurrency: 4,
      onError: (err) => server.log.error({ err }, 'job worker error'),
    });
  }

  // Chunks no manifest references are deleted once they are older than the grace period: an import that
  // touched them but has not committed its manifest yet is protected by that period.
  const collect = async () => {
    const swept = await sweepOrphanManifests(store.db, { graceMs: config.gcGraceMs, now: clock.now() });
    if (swept) server.log.warn({ swept }, 'released manifests that no disk or snapshot holds');
    for (const region of regions.all) {
      const r = await collectGarbage({ index: dataPlane.index, store: dataPlane.store(region.id), region: region.id, graceMs: config.gcGraceMs, now: () => clock.now() });
      if (r.deleted) server.log.info({ region: region.id, ...r }, 'garbage collected');
    }
  };
  const gcTimer = setInterval(() => void collect().catch((e) => server.log.warn({ err: e }, 'garbage collection failed')), config.gcIntervalMs);
  gcTimer.unref();

  // Planner statistics follow the data as it grows (SQLite only; a no-op on PostgreSQL).
  const maintenance = setInterval(() => void store.optimize().catch((e) => server.log.warn({ err: e }, 'optimize failed')), 3600_000);
  maintenance.unref();

  return {
    server,
    services,
    store,
    box,
    async close() {
      clearInterval(maintenance);
      stopMeter();
      clearInterval(gcTimer);
      await worker?.stop();
      await server.close();
      await dataPlane.close();
      await store.close();
    },
  };
}
