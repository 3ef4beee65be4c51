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
import { registerEcsGateway } from './api/ecs/gateway.ts';

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

  const services: Services = {
    db: store.db,
    dialect: store.dialect,
    regions,
    instanceTypes: loadInstanceTypes(undefined, regionInfos),
    clock,
    limits: { imageQuota: config.imageQuota },
    // Instances arrive with the compute resources; until then no image is in use.
    imagesInUse: async () => new Set<string>(),
  };

  const server = Fastify({ logger: opts.logger === false ? false : { level: config.logLevel } });
  await server.register(async (scope) => registerEcsGateway(scope, { services, box, maxClockSkewMs: config.maxClockSkewMs }));

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
      await server.close();
      await store.close();
    },
  };
}
