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

export interface TestServer {
  app: App;
  endpoint: string;
  /** host:port, as the official SDK wants it */
  hostPort: string;
  dataDir: string;
  account(name: string): Promise<NewAccount>;
  stop(): Promise<void>;
}

export async function startServer(opts: { clock?: Clock; postgresBaseUrl?: string; env?: Record<string, string>; logStream?: NodeJS.WritableStream } = {}): Promise<TestServer> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-server-'));
  const pg = opts.postgresBaseUrl ? await freshPostgresDatabase(opts.postgresBaseUrl) : undefined;
  const config = loadConfig({ data: dataDir, port: '0' }, { ...(opts.env ?? {}), IMAGEHOUSE_DATABASE_URL: pg?.url ?? '' });
  const app = await createApp(config, { clock: opts.clock, logger: opts.logStream !== undefined, logStream: opts.logStream });
  const address = await app.server.listen({ port: 0, host: '127.0.0.1' });
  const url = new URL(address);
  return {
    app,
    endpoint: address,
    hostPort: url.host,
    dataDir,
    account: (name) => createAccount(app.services, { name }),
    async stop() {
      await app.close();
      await pg?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
