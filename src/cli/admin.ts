/**
 * The store and the app, loaded only by the commands that use them: `--help` and the API-client commands never
 * load fastify, kysely, the SQLite binding or the S3 client, so they start fast.
 */
import type { Config } from '../config.ts';
import type { AdminServices, App, AppOptions } from '../app.ts';

export async function openAdmin(config: Config): Promise<AdminServices> {
  return (await import('../app.ts')).openAdmin(config);
}

export async function createApp(config: Config, opts?: AppOptions): Promise<App> {
  return (await import('../app.ts')).createApp(config, opts);
}
