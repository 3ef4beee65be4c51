/**
 * The store, the app and the administrative use cases, loaded only by the commands that use them: `--help` and the
 * API-client commands never load fastify, kysely, the SQLite binding or the S3 client, so they start fast
 * (test/structure/cli-startup.test.ts).
 */
import type { Config } from '../config.ts';
import type { AdminServices, App, AppOptions } from '../app.ts';

export async function openAdmin(config: Config): Promise<AdminServices> {
  return (await import('../app.ts')).openAdmin(config);
}

/** Accounts, passwords, bills and Marketplace publishing, as the administrative commands call them on `openAdmin`'s services. */
export function adminUseCases(): Promise<typeof import('./admin-use-cases.ts')> {
  return import('./admin-use-cases.ts');
}

export async function createApp(config: Config, opts?: AppOptions): Promise<App> {
  return (await import('../app.ts')).createApp(config, opts);
}
