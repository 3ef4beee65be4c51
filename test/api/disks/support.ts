/** Helpers for the compute tests: signed disk content requests, launching, and custom images over snapshots. */
import { ApiCallError, dataRequest, type ClientConfig } from '../../../src/cli/api.ts';
import type { NewAccount } from '../../../src/services/accounts.ts';
import type { ImageRow } from '../../../src/store/schema.ts';
import type { TestServer } from '../../support/server.ts';
import { insertCustomImage } from '../../support/images.ts';
import { Ecs } from '../../support/sdk.ts';

export const PUBLIC_X64 = 'ubuntu_24_04_x64_20G_alibase_20240812.vhd';
export const PUBLIC_ARM = 'ubuntu_24_04_arm64_20G_alibase_20240812.vhd';
export const PUBLIC_DEPRECATED = 'ubuntu_24_04_x64_20G_alibase_20240523.vhd';
export const GIB = 1024 ** 3;

/** The ApiCallError a data request fails with (anything else, or success, fails the test). */
export async function failure(p: Promise<unknown>): Promise<ApiCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiCallError) return e;
    throw e;
  }
  throw new Error('expected the request to fail');
}

export function dataConfig(server: TestServer, account: Pick<NewAccount, 'accessKeyId' | 'accessKeySecret'>, region = 'cn-hangzhou'): ClientConfig {
  return { endpoint: server.endpoint, region, accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret };
}

export async function putBytes(cfg: ClientConfig, diskId: string, offset: number, data: Buffer): Promise<{ BytesWritten: number }> {
  const res = await dataRequest(cfg, 'PUT', `/disks/${diskId}/content`, { offset: String(offset) }, { body: data, headers: { 'content-type': 'application/octet-stream' } });
  return (await res.json()) as { BytesWritten: number };
}

export async function getBytes(cfg: ClientConfig, diskId: string, offset: number, length: number): Promise<Buffer> {
  const res = await dataRequest(cfg, 'GET', `/disks/${diskId}/content`, {}, { headers: { range: `bytes=${offset}-${offset + length - 1}` } });
  return Buffer.from(await res.arrayBuffer());
}

/** Launches one instance and returns its ID and its disks (system first). */
export async function launch(client: any, fields: Record<string, unknown> = {}): Promise<{ instanceId: string; system: any; data: any[] }> {
  const res = await client.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', imageId: PUBLIC_X64, instanceType: 'ecs.g7.large', ...fields }));
  const instanceId = res.body.instanceIdSets.instanceIdSet[0];
  const disks = (await client.describeDisks(new Ecs.DescribeDisksRequest({ regionId: 'cn-hangzhou', instanceId }))).body.disks.disk;
  return { instanceId, system: disks.find((d: any) => d.type === 'system'), data: disks.filter((d: any) => d.type === 'data').sort((a: any, b: any) => (a.device < b.device ? -1 : 1)) };
}

/** A custom image of `owner` whose system disk is `snapshotId` (what CreateImage from a snapshot makes). */
export async function imageFromSnapshot(server: TestServer, owner: string, snapshotId: string, row: Partial<ImageRow> = {}): Promise<string> {
  const db = server.app.services.db;
  const snap = await db.selectFrom('snapshots').selectAll().where('id', '=', snapshotId).executeTakeFirstOrThrow();
  const id = `m-bp1${Math.random().toString(36).slice(2, 12).padEnd(17, '0')}`;
  await insertCustomImage(db, { id, region: 'cn-hangzhou', owner_id: owner, name: `img-${id.slice(5, 12)}`, size_gib: snap.source_disk_size_gib, ...row });
  await db.updateTable('image_disks').set({ snapshot_id: snapshotId }).where('image_id', '=', id).execute();
  return id;
}

export async function share(server: TestServer, imageId: string, accountId: string): Promise<void> {
  await server.app.services.db.insertInto('image_shares').values({ image_id: imageId, account_id: accountId, created_at: Date.now() }).execute();
}

/** Deterministic, non-repeating bytes (xorshift32), so equal-looking chunks never dedupe by accident. */
export function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/**
 * Every manifest's holder count equals the disks and snapshots pointing at it (no image or job holds one in
 * these tests): nothing leaked, nothing freed while still in use. A read holds its manifest until its
 * response stream has closed, which may be just after the client saw the last byte, so this waits a little
 * for such holds to go.
 */
export async function manifestHoldsBalance(server: TestServer): Promise<{ id: string; holders: number; users: number }[]> {
  let wrong = await holdMismatches(server);
  for (let i = 0; i < 60 && wrong.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    wrong = await holdMismatches(server);
  }
  return wrong;
}

async function holdMismatches(server: TestServer): Promise<{ id: string; holders: number; users: number }[]> {
  const db = server.app.services.db;
  const [manifests, disks, snaps] = await Promise.all([
    db.selectFrom('manifests').select(['id', 'holders']).execute(),
    db.selectFrom('disks').select('manifest_id').execute(),
    db.selectFrom('snapshots').select('manifest_id').execute(),
  ]);
  const users = new Map<string, number>();
  for (const r of [...disks, ...snaps]) users.set(r.manifest_id, (users.get(r.manifest_id) ?? 0) + 1);
  const wrong = manifests.map((m) => ({ id: m.id, holders: m.holders, users: users.get(m.id) ?? 0 })).filter((m) => m.holders !== m.users);
  for (const id of users.keys()) if (!manifests.some((m) => m.id === id)) wrong.push({ id, holders: 0, users: users.get(id)! });
  return wrong;
}
