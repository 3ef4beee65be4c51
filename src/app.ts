/**
 * The one composition root: config → store, chunk stores, object store, job queue, clock and caches →
 * services → HTTP surfaces. Every other module receives what it uses; `listen()` lives in the CLI.
 */
import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { redactedUrl, StartupError, type Config } from './config.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { loadInstanceTypes, loadPublicImages, loadRegions } from './domain/catalog/index.ts';
import { Regions } from './domain/regions.ts';
import { openStore, type Store } from './store/db.ts';
import { kyselyNonceStore } from './store/nonces.ts';
import { imageLookups } from './services/images/lookups.ts';
import { glanceLookups } from './services/glance/rows.ts';
import { tokenLookups } from './services/identity/tokens.ts';
import type { ChunkStore } from './blobs/types.ts';
import { FsChunkStore } from './blobs/fs-store.ts';
import { createS3Client, S3ChunkStore } from './blobs/s3-store.ts';
import { KyselyChunkIndex } from './blobs/chunk-index.ts';
import { ManifestRepo } from './blobs/manifests.ts';
import { HashPool } from './blobs/hash-pool.ts';
import { ChunkBufferPool } from './formats/buffer-pool.ts';
import { collectGarbage } from './blobs/gc.ts';
import { reportEventLoop } from './api/http/loop-report.ts';
import { JobQueue, loadNodeId, startWorker, type Worker } from './jobs/index.ts';
import type { Services } from './services/context.ts';
import { dataPlaneOf } from './services/data-plane.ts';
import type { ObjectStore } from './services/buckets/object-store.ts';
import { FsObjectStore } from './services/buckets/fs-objects.ts';
import { S3ObjectStore } from './services/buckets/s3-objects.ts';
import { createSecretBox, loadMasterKey } from './services/secret-box.ts';
import { ensureSystemAccount } from './services/accounts.ts';
import { AccessKeyCache } from './services/access-key-cache.ts';
import { seedPublicImages } from './services/catalog-seed.ts';
import { JOB_KIND, type JobKind } from './services/job-kinds.ts';
import { createImageJob } from './services/images/verify-job.ts';
import { copyImageJob } from './services/images/copy-job.ts';
import { importJobKind } from './services/transfer/import-job.ts';
import { glanceImportJobKind } from './services/glance/import.ts';
import { ImageCache } from './services/glance/cache-store.ts';
import { exportJobKind } from './services/transfer/export-job.ts';
import { memberBatchJob } from './services/ims/members.ts';
import { removeStaleTempFiles } from './services/transfer/temp-files.ts';
import { removeStaleSpools } from './services/glance/stale-spools.ts';
import { withApiErrors } from './services/errors.ts';
import { sweepOrphanManifests } from './services/manifest-sweep.ts';
import { startMeterTimer } from './services/billing/meter.ts';
import { AccountWork } from './services/account-work.ts';
import { clientErrorHandler, errorPath, newRequestId } from './api/http/surfaces.ts';
import { registerHealth } from './api/health/routes.ts';
import { logEachRequest, logSerializers, textLogStream } from './api/http/logging.ts';
import { cutSlowHeaders, limitConnectionsPerAddress } from './api/http/connections.ts';
import { renderError } from './api/ecs/render.ts';
import { ecsSurface, registerEcsGateway } from './api/ecs/gateway.ts';
import { registerDiskRoutes } from './api/ecs/data/disks.ts';
import { registerTransferRoutes } from './api/ecs/data/transfer.ts';
import { registerBillingRoutes } from './api/ecs/data/billing.ts';
import { consoleSurface, registerConsole } from './api/console/routes.ts';
import { createNbdServer, type NbdServer } from './api/nbd/server.ts';
import { nbdTokenKey } from './services/compute/nbd-exports.ts';
import { qemuHypervisor } from './vm/hypervisor.ts';
import { resumeRunningInstances } from './services/compute/vms.ts';
import { keystoneSurface, registerKeystone } from './api/keystone/routes.ts';
import { glanceSurface, registerGlance } from './api/glance/routes.ts';
import { imsSurface, registerIms } from './api/ims/routes.ts';

export interface App {
  server: FastifyInstance;
  services: Services;
  store: Store;
  /**
   * Disk exports; `listen` it (127.0.0.1) next to the HTTP server. Once it listens, instances the store has
   * Running are booted again (IMAGEHOUSE_HYPERVISOR=qemu): their VMs ended with the previous process.
   */
  nbd: NbdServer;
  close(): Promise<void>;
}

export interface AppOptions {
  clock?: Clock;
  logger?: boolean;
  /** Where log lines go (default stdout); tests read them. */
  logStream?: NodeJS.WritableStream;
  /** Run the job worker in this process (default true). */
  worker?: boolean;
  /** Job lease; a crashed worker's jobs are resumed this long after its last heartbeat. */
  jobLeaseMs?: number;
}

/** How long close() waits for running requests and jobs, and then for the stores, before it cuts them off. */
const SHUTDOWN_GRACE_MS = 4_000;

export function loadRegionTable(config: Pick<Config, 'regionsFile'>): Regions {
  const infos = loadRegions(config.regionsFile || undefined);
  return new Regions(infos.map((r) => ({ id: r.RegionId, infix: r.IdInfix, endpoint: r.RegionEndpoint, localNames: r.LocalName, zones: r.Zones })));
}

/** Opens the metadata store the way the server and the administrative CLI both do. */
export function openConfiguredStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Store> {
  return openStore({ databaseUrl: config.databaseUrl || undefined, sqlitePath: path.join(config.dataDir, 'imagehouse.db') });
}

/** Every durable job kind, by name. */
export function jobKinds(services: Services): Record<string, JobKind> {
  return {
    [JOB_KIND.createImage]: createImageJob(services),
    [JOB_KIND.copyImage]: copyImageJob(services),
    [JOB_KIND.importImage]: importJobKind(services),
    [JOB_KIND.exportImage]: exportJobKind(services),
    [JOB_KIND.glanceImport]: glanceImportJobKind(services),
    [JOB_KIND.glanceTask]: glanceImportJobKind(services),
    [JOB_KIND.glanceUpload]: glanceImportJobKind(services),
    [JOB_KIND.imsMembers]: memberBatchJob(services),
  };
}

/** The ports administrative commands use on the store directly, without a server. */
export type AdminServices = Pick<Services, 'db' | 'dialect' | 'counts' | 'secrets' | 'regions' | 'clock'> & { close(): Promise<void> };

export async function openAdmin(config: Config, clock: Clock = systemClock): Promise<AdminServices> {
  const store = await openConfiguredStore(config);
  return {
    db: store.db,
    dialect: store.dialect,
    counts: store.counts,
    secrets: createSecretBox(loadMasterKey(config.dataDir, config.masterKey)),
    regions: loadRegionTable(config),
    clock,
    close: () => store.close(),
  };
}

/** Chunk stores for every region and the bucket store: on S3 when configured (checked now, not at first use), else in the data directory. */
async function openBlobStores(config: Config, regions: Regions, tempDir: string, buffers: ChunkBufferPool): Promise<{ chunks: Map<string, ChunkStore>; objects: ObjectStore; close(): void }> {
  const chunks = new Map<string, ChunkStore>();
  if (config.s3.endpoint) {
    const client = createS3Client(config.s3);
    for (const r of regions.all) chunks.set(r.id, new S3ChunkStore({ ...config.s3, prefix: `${r.id}/` }, client));
    await (chunks.get(regions.all[0].id) as S3ChunkStore).ensureBucket();
    return { chunks, objects: new S3ObjectStore(client, tempDir), close: () => client.destroy() };
  }
  for (const r of regions.all) chunks.set(r.id, new FsChunkStore(path.join(config.dataDir, 'chunks', r.id)));
  return { chunks, objects: new FsObjectStore(path.join(config.dataDir, 'buckets'), tempDir, buffers), close: () => {} };
}

/** JSON lines unless IMAGEHOUSE_LOG_FORMAT=text, or it is unset and the lines go to a terminal. */
function logDestination(config: Config, stream: NodeJS.WritableStream | undefined): { stream?: NodeJS.WritableStream } {
  const out = stream ?? process.stdout;
  const text = config.logFormat === 'text' || (config.logFormat === '' && (out as { isTTY?: boolean }).isTTY === true);
  return text ? { stream: textLogStream(out) } : stream ? { stream } : {};
}

function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.message || err?.code || err?.name || String(e);
}

/** The store did not open: PostgreSQL unreachable or refusing, or the SQLite file in the data directory unusable. */
function storeStartupError(config: Config, e: unknown): StartupError {
  if (config.databaseUrl) return new StartupError('database', `cannot use the database ${redactedUrl(config.databaseUrl)}: ${reasonOf(e)} (check --database-url or IMAGEHOUSE_DATABASE_URL)`);
  return new StartupError('dataDir', `cannot open ${path.join(config.dataDir, 'imagehouse.db')}: ${reasonOf(e)} (check --data or IMAGEHOUSE_DATA)`);
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const clock = opts.clock ?? systemClock;
  const store = await openConfiguredStore(config).catch((e) => { throw storeStartupError(config, e); });
  const regionInfos = loadRegions(config.regionsFile || undefined);
  const regions = loadRegionTable(config);
  const dirs = { temp: path.join(config.dataDir, 'tmp'), uploads: path.join(config.dataDir, 'uploads') };
  let masterKey: Buffer;
  let nodeId: string;
  let blobStores: Awaited<ReturnType<typeof openBlobStores>>;
  /** The data plane's 4 MiB buffers: chunk imports, uploads, and the folder object store's file writes share them. */
  const buffers = new ChunkBufferPool();
  try {
    try {
      masterKey = loadMasterKey(config.dataDir, config.masterKey);
    } catch (e) {
      throw new StartupError('dataDir', `cannot keep the master key in ${config.dataDir}: ${reasonOf(e)} (check --data or IMAGEHOUSE_DATA)`);
    }
    try {
      nodeId = loadNodeId(config.dataDir);
    } catch (e) {
      throw new StartupError('dataDir', `cannot keep the node id in ${config.dataDir}: ${reasonOf(e)} (check --data or IMAGEHOUSE_DATA)`);
    }
    blobStores = await openBlobStores(config, regions, dirs.temp, buffers).catch((e) => {
      throw new StartupError('objectStore', `cannot reach S3 at ${config.s3.endpoint} (bucket ${config.s3.bucket}): ${reasonOf(e)} (check IMAGEHOUSE_S3_ENDPOINT and its keys)`);
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const hashPool = new HashPool();

  let nbd: NbdServer | undefined;
  let log: FastifyBaseLogger | undefined;
  const hypervisor = config.hypervisor === 'qemu'
    ? qemuHypervisor({ ...config.vm, onError: (err) => log?.error({ err }, 'could not record a VM event') })
    : undefined;
  let worker: Worker | undefined;
  let kinds: Record<string, JobKind> = {};
  const jobs = new JobQueue(store.db, store.dialect, clock, {
    onFinished: async (trx, job) => kinds[job.kind]?.onFinished?.(trx, job),
    maxRunningPerAccount: config.jobsPerAccount,
    node: nodeId,
  });

  const services: Services = {
    db: store.db,
    dialect: store.dialect,
    counts: store.counts,
    nonces: kyselyNonceStore(store.db, clock),
    imageLookups: imageLookups(store.db, store.dialect),
    glanceLookups: glanceLookups(store.db, store.dialect),
    tokens: tokenLookups(store.db, store.dialect),
    secrets: createSecretBox(masterKey),
    accessKeys: new AccessKeyCache(store.accessKeyChanges, clock),
    regions,
    instanceTypes: loadInstanceTypes(undefined, regionInfos),
    clock,
    limits: { imageQuota: config.imageQuota, maxClockSkewMs: config.maxClockSkewMs },
    work: new AccountWork(config.requestsPerAccount),
    dataPlane: dataPlaneOf({
      stores: blobStores.chunks,
      index: new KyselyChunkIndex(store.db, { now: () => clock.now() }),
      manifests: new ManifestRepo(store.db, { now: () => clock.now() }),
      hashPool,
      buffers,
    }),
    objects: blobStores.objects,
    dirs,
    jobs,
    imageCache: new ImageCache(path.join(config.dataDir, 'image-cache'), clock),
    webDownload: { allowedHosts: config.importAllowedHosts },
    nbd: { tokenKey: nbdTokenKey(masterKey), port: () => nbd?.port() },
    ...(hypervisor ? { hypervisor } : {}),
    wakeWorker: () => worker?.wake(),
    uploadBodies: new Map(),
  };
  kinds = jobKinds(services);

  const catalog = loadPublicImages(config.publicImagesFile || undefined, regionInfos);
  await seedPublicImages(services, await ensureSystemAccount(services), catalog);

  const errors = errorPath([consoleSurface, keystoneSurface, glanceSurface, imsSurface], ecsSurface(services));
  const server = Fastify({
    logger: opts.logger === false ? false : { level: config.logLevel, serializers: logSerializers, ...logDestination(config, opts.logStream) },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: newRequestId,
    // Slow or idle clients cannot hold a connection: headers must arrive within headersTimeout, the whole
    // request within requestTimeout, and a connection (an upload that stops sending included) that is idle
    // for idleTimeout is closed. A kept-alive connection ends at idleTimeout too, and says so in its Keep-Alive header
    // (Fastify's 72 s would promise more than the connection guard below allows).
    keepAliveTimeout: config.http.idleTimeoutMs,
    http: {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(config.http.headersTimeoutMs / 4))),
    },
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.idleTimeoutMs,
    frameworkErrors: errors.frameworkErrors,
    clientErrorHandler: clientErrorHandler((err) => renderError(err, newRequestId(), 'ecs.aliyuncs.com', 'JSON')),
  });
  errors.install(server);
  logEachRequest(server);
  const stopLoopReport = config.loopReportMs > 0 ? reportEventLoop(server, config.loopReportMs) : () => {};
  limitConnectionsPerAddress(server.server, config.http.maxConnectionsPerAddress, (address) => server.log.warn({ address }, 'connection refused: too many from this address'));
  // A little later than Node's own checks, which answer first when they work.
  cutSlowHeaders(server.server, { firstMs: config.http.headersTimeoutMs + 1_000, nextMs: Math.max(config.http.headersTimeoutMs, config.http.idleTimeoutMs) + 1_000 });
  await server.register(async (scope) => registerEcsGateway(scope, services));
  await server.register(async (scope) => registerDiskRoutes(scope, services));
  await server.register(async (scope) => registerTransferRoutes(scope, services));
  await server.register(async (scope) => registerBillingRoutes(scope, services));
  await server.register(async (scope) => registerConsole(scope, services));
  await server.register(async (scope) => registerHealth(scope, services, () => worker?.health()));
  await server.register(async (scope) => registerKeystone(scope, services));
  await server.register(async (scope) => registerGlance(scope, services));
  await server.register(async (scope) => registerIms(scope, services));

  log = server.log;
  const exports = createNbdServer(services, log);
  nbd = {
    ...exports,
    async listen(port) {
      const bound = await exports.listen(port);
      const resumed = await resumeRunningInstances(services);
      if (resumed) log!.warn({ resumed }, 'booted the VMs of instances left Running');
      return bound;
    },
  };
  await removeStaleTempFiles(services).catch((e) => log.warn({ err: e }, 'could not clear stale temp files'));
  await removeStaleSpools(services).catch((e) => log.warn({ err: e }, 'could not clear stale Glance spools'));
  const stopMeter = startMeterTimer(services, { onError: (e) => log.warn({ err: e }, 'metering failed') });
  if (opts.worker !== false) {
    worker = startWorker({
      queue: jobs,
      // The node, and the process: a restarted node's claims are not mistaken for its previous run's.
      owner: `${jobs.node}-${process.pid}`,
      handlers: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, withApiErrors(v.handler)])),
      leaseMs: opts.jobLeaseMs ?? config.jobLeaseMs,
      pollMs: 250,
      concurrency: 4,
      stopTimeoutMs: SHUTDOWN_GRACE_MS,
      onError: (err) => log.error({ err }, 'job worker error'),
    });
  }

  // Chunks no manifest references are deleted once they are older than the grace period: an import that
  // touched them but has not committed its manifest yet is protected by that period.
  const collect = async () => {
    const swept = await sweepOrphanManifests(services, { graceMs: config.gcGraceMs });
    if (swept) log.warn({ swept }, 'released holds of dead readers and manifests that no disk or snapshot holds');
    for (const region of regions.all) {
      const r = await collectGarbage({ index: services.dataPlane.index, store: services.dataPlane.store(region.id), region: region.id, graceMs: config.gcGraceMs, now: () => clock.now() });
      if (r.deleted) log.info({ region: region.id, ...r }, 'garbage collected');
    }
  };
  const gcTimer = setInterval(() => void collect().catch((e) => log.warn({ err: e }, 'garbage collection failed')), config.gcIntervalMs);
  gcTimer.unref();

  // Planner statistics follow the data as it grows (SQLite only; a no-op on PostgreSQL).
  const maintenance = setInterval(() => void store.optimize().catch((e) => log.warn({ err: e }, 'optimize failed')), 3600_000);
  maintenance.unref();

  return {
    server,
    services,
    store,
    nbd,
    async close() {
      clearInterval(maintenance);
      stopLoopReport();
      stopMeter();
      clearInterval(gcTimer);
      // Bounded: requests still running after the grace period are cut off, and jobs that have not stopped keep
      // their lease, so the next start resumes them once it expires.
      const httpClosed = server.close();
      const cutOff = setTimeout(() => server.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await worker?.stop();
      await httpClosed;
      clearTimeout(cutOff);
      const rest = async () => {
        await hypervisor?.close();
        await nbd!.close();
        await hashPool.close();
        await Promise.all([...blobStores.chunks.values()].map((s) => s.close()));
        blobStores.close();
        await store.close();
      };
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => { timer = setTimeout(() => { log.warn('shutdown: stores still closing after the grace period; leaving them'); resolve(); }, SHUTDOWN_GRACE_MS); });
      const resting = rest();
      resting.catch(() => {}); // a failure after the cut-off has no one left to report to
      await Promise.race([resting, late]);
      clearTimeout(timer);
    },
  };
}
