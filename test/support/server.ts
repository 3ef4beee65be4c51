/**
 * Starts the real service on 127.0.0.1 (random port, temp data dir, SQLite or the test PostgreSQL)
 * and creates accounts through the same code as `imagehouse account create`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount, type NewAccount } from '../../src/services/accounts.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { freshPostgresDatabase } from './stores.ts';
import { ecsClient } from './sdk.ts';

export interface TestServer {
  app: App;
  endpoint: string;
  /** host:port, as the official SDK wants it */
  hostPort: string;
  dataDir: string;
  /** The PostgreSQL database it runs on (undefined on SQLite): another node can share it (`databaseUrl`). */
  databaseUrl?: string;
  account(name: string): Promise<NewAccount>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  clock?: Clock;
  /** Runs on a fresh database of this PostgreSQL server instead of SQLite. */
  postgresBaseUrl?: string;
  /** Runs on this existing database (another test server's): a second node of the same cluster. Not dropped at stop. */
  databaseUrl?: string;
  env?: Record<string, string>;
  /** Where the server logs; without it the server logs nothing. */
  logStream?: NodeJS.WritableStream;
}

/** A started server with named accounts and an official ECS SDK client (V3 signatures) for each. */
export interface TestWorld<N extends string> {
  server: TestServer;
  accounts: Record<N, NewAccount>;
  ecs: Record<N, ReturnType<typeof ecsClient>>;
}

/** The one fixture the end-to-end suites share: `const { server, accounts, ecs } = await startServerWith(['alice', 'bob'])`. */
export async function startServerWith<N extends string>(names: readonly N[], opts: ServerOptions = {}): Promise<TestWorld<N>> {
  const server = await startServer(opts);
  const accounts = {} as Record<N, NewAccount>;
  const ecs = {} as Record<N, ReturnType<typeof ecsClient>>;
  for (const name of names) {
    accounts[name] = await server.account(name);
    ecs[name] = ecsClient(server.hostPort, accounts[name]);
  }
  return { server, accounts, ecs };
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-server-'));
  const pg = opts.postgresBaseUrl && !opts.databaseUrl ? await freshPostgresDatabase(opts.postgresBaseUrl) : undefined;
  const databaseUrl = opts.databaseUrl ?? pg?.url;
  const config = loadConfig({ data: dataDir, port: '0', 'nbd-port': '0' }, { ...(opts.env ?? {}), IMAGEHOUSE_DATABASE_URL: databaseUrl ?? '' });
  const app = await createApp(config, { clock: opts.clock, logger: opts.logStream !== undefined, logStream: opts.logStream });
  const address = await app.server.listen({ port: 0, host: '127.0.0.1' });
  await app.nbd.listen(0);
  const url = new URL(address);
  return {
    app,
    endpoint: address,
    hostPort: url.host,
    dataDir,
    databaseUrl,
    account: (name) => createAccount(app.services, { name }),
    async stop() {
      await app.close();
      await pg?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
