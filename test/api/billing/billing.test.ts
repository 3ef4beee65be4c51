/**
 * Billing and Marketplace, golden scenarios with amounts computed by hand. Set-up runs through the SDK at
 * real time; the billed period runs on a virtual clock in the next calendar month (the gateway checks
 * signatures against the service clock, so those steps call the same services the actions call).
 * Test prices: Windows 8 vCPU 0.80/h, snapshot storage 7300 CNY per GiB-month = 10 CNY per GiB-hour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestServer } from '../../support/server.ts';
import { ecsClient, Ecs, sdkError } from '../../support/sdk.ts';
import { settledImage } from '../../e2e/transfer-support.ts';
import { dataConfig, launch, pattern, putBytes } from '../disks/support.ts';
import { runCli } from '../../support/cli.ts';
import { callAction, dataRequest } from '../../../src/cli/api.ts';
import type { NewAccount } from '../../../src/services/accounts.ts';
import { publishProduct, publishVersion } from '../../../src/services/marketplace/products.ts';
import { launchInstances, deleteInstance } from '../../../src/services/compute/instances.ts';
import { deleteImage } from '../../../src/services/images/delete.ts';
import { HOUR, hourOf, meterHours } from '../../../src/services/billing/meter.ts';
import { billFor, revenueFor } from '../../../src/services/billing/bill.ts';
import { billingDb } from '../../../src/services/billing/tables.ts';

const WINDOWS = 'win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd';
const LINUX = 'ubuntu_24_04_x64_20G_alibase_20240812.vhd';
const MIB = 1024 * 1024;
const pricesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ih-prices-')), 'prices.json');
fs.writeFileSync(pricesFile, JSON.stringify({
  Currency: 'CNY', HoursPerMonth: 730, SnapshotStoragePerGiBMonth: '7300',
  LicensePerHour: { windows: [{ MaxVcpu: 4, Price: '0.40' }, { MaxVcpu: 8, Price: '0.80' }, { MaxVcpu: 1024, Price: '3.20' }], rhel: [{ MaxVcpu: 1024, Price: '0.75' }] },
}));
process.env.IMAGEHOUSE_PRICES_FILE = pricesFile;

let virtual: number | undefined;
const clock = { now: () => virtual ?? Date.now() };
let server: TestServer;
let isv: NewAccount, alice: NewAccount, bob: NewAccount;
let month: string;
let V: number; // the first hour of next month
let isvSnapshot: string, bobSnapshot: string, bobImage: string, mpImage: string;

async function snapshotWithBytes(account: NewAccount, bytes: number, seed: number): Promise<{ snapshotId: string; imageId: string; instanceId: string }> {
  const c = ecsClient(server.hostPort, account);
  const { instanceId, system } = await launch(c);
  await putBytes(dataConfig(server, account), system.diskId, 0, pattern(bytes, seed));
  const snapshotId = (await c.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: system.diskId }))).body.snapshotId;
  const imageId = (await c.createImage(new Ecs.CreateImageRequest({ regionId: 'cn-hangzhou', snapshotId, imageName: `img${seed}` }))).body.imageId;
  assert.equal((await settledImage(c, imageId, 'cn-hangzhou')).status, 'Available');
  await c.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId, force: true }));
  return { snapshotId, imageId, instanceId };
}

const input = (accountId: string, imageId: string, instanceType: string) => ({
  region: 'cn-hangzhou', accountId, imageId, instanceType, amount: 1, status: 'Running' as const, systemDisk: {}, dataDisks: [], tags: [],
});

/** Meters like the hourly timer: every step first records the hours that ended. */
async function at(t: number, step?: () => Promise<unknown>): Promise<void> {
  virtual = t;
  await meterHours(server.app.services, V, t);
  await step?.();
}

before(async () => {
  // On PostgreSQL when IMAGEHOUSE_TEST_DATABASE_URL is set, on SQLite otherwise.
  ({ server, accounts: { isv, alice, bob } } = await startServerWith(['isv', 'alice', 'bob'], { clock, postgresBaseUrl: process.env.IMAGEHOUSE_TEST_DATABASE_URL || undefined }));
  const now = new Date();
  V = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  month = new Date(V).toISOString().slice(0, 7);
  const a = await snapshotWithBytes(isv, 8 * MIB, 1);
  isvSnapshot = a.snapshotId;
  const b = await snapshotWithBytes(bob, 4 * MIB, 2);
  bobSnapshot = b.snapshotId;
  bobImage = b.imageId;
  await publishProduct(server.app.services, {
    isvId: isv.accountId, code: 'acme-lamp', name: 'ACME LAMP', description: 'LAMP stack', priceModel: 'hourly',
    hourlyTiers: [{ maxVcpu: 4, micro: 300_000 }, { maxVcpu: 64, micro: 900_000 }], regions: ['cn-hangzhou'],
  });
  mpImage = await publishVersion(server.app.services, { isvId: isv.accountId, code: 'acme-lamp', region: 'cn-hangzhou', fromImageId: a.imageId, version: '1.0' });
});

after(async () => {
  virtual = undefined;
  await server?.stop();
});

test('snapshots store the bytes written (the unique bytes billed)', async () => {
  const rows = await server.app.services.db.selectFrom('snapshots').select(['id', 'unique_bytes']).where('id', 'in', [isvSnapshot, bobSnapshot]).execute();
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.id, Number(r.unique_bytes)])), { [isvSnapshot]: 8 * MIB, [bobSnapshot]: 4 * MIB });
});

test('Marketplace: listed with ProductCode, refused without a subscription, runnable after subscribing', async () => {
  const c = ecsClient(server.hostPort, alice);
  const list = async () => (await c.describeImages(new Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou', imageOwnerAlias: 'marketplace' }))).body.images.image;
  const [img] = await list();
  assert.equal(img.imageId, mpImage);
  assert.equal(img.productCode, 'acme-lamp');
  assert.equal(img.isSubscribed, false);
  const run = () => c.runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', imageId: mpImage, instanceType: 'ecs.g7.xlarge' }));
  const refused = await sdkError(run);
  assert.equal(refused.code, 'ImageNotSubscribed');
  assert.equal(refused.statusCode, 403);

  const cfg = dataConfig(server, alice);
  const products = await callAction(cfg, 'DescribeMarketplaceProducts', { RegionId: 'cn-hangzhou' });
  assert.deepEqual(products.Products.Product.map((p: any) => [p.ProductCode, p.PriceModel, p.IsSubscribed, p.Versions.Version[0].ImageId]), [['acme-lamp', 'hourly', false, mpImage]]);
  const sub = await callAction(cfg, 'SubscribeMarketplaceProduct', { ProductCode: 'acme-lamp' });
  assert.equal(sub.TradePrice, '0.000000');
  assert.equal((await list())[0].isSubscribed, true);
  assert.equal((await callAction(cfg, 'SubscribeMarketplaceProduct', { ProductCode: 'nope' }).catch((e) => e)).code, 'InvalidProductCode.NotFound');

  // An image derived from the Marketplace image keeps its ProductCode: not shareable, exportable, or copyable where the product is not sold.
  const { instanceId, system } = await launch(c, { imageId: mpImage, instanceType: 'ecs.g7.xlarge' });
  const snap = (await c.createSnapshot(new Ecs.CreateSnapshotRequest({ diskId: system.diskId }))).body.snapshotId;
  const derived = (await c.createImage(new Ecs.CreateImageRequest({ regionId: 'cn-hangzhou', snapshotId: snap, imageName: 'derived' }))).body.imageId;
  await c.deleteInstance(new Ecs.DeleteInstanceRequest({ instanceId, force: true }));
  const d = await settledImage(c, derived, 'cn-hangzhou');
  assert.equal(d.productCode, 'acme-lamp');
  assert.equal((await sdkError(() => c.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({ regionId: 'cn-hangzhou', imageId: derived, addAccount: [bob.accountId] })))).code, 'ImageNotSupported');
  assert.equal((await sdkError(() => c.exportImage(new Ecs.ExportImageRequest({ regionId: 'cn-hangzhou', imageId: derived, OSSBucket: 'b', OSSPrefix: 'x' })))).code, 'ImageNotSupported');
  assert.equal((await sdkError(() => c.copyImage(new Ecs.CopyImageRequest({ regionId: 'cn-hangzhou', imageId: derived, destinationRegionId: 'cn-shanghai' })))).code, 'OperationDenied.NotPublished');
  // Bob, not subscribed, cannot run the Marketplace image either.
  assert.equal((await sdkError(() => ecsClient(server.hostPort, bob).runInstances(new Ecs.RunInstancesRequest({ regionId: 'cn-hangzhou', imageId: mpImage, instanceType: 'ecs.g7.xlarge' })))).code, 'ImageNotSubscribed');
});

test('DescribePrice: the image part matches what the meter charges', async () => {
  const c = ecsClient(server.hostPort, alice);
  const price = async (imageId: string, instanceType: string) =>
    (await c.describePrice(new Ecs.DescribePriceRequest({ regionId: 'cn-hangzhou', imageId, instanceType }))).body.priceInfo;
  const win = await price(WINDOWS, 'ecs.g7.2xlarge');
  assert.equal(win.price.tradePrice, 0.8);
  assert.deepEqual(win.price.detailInfos.detailInfo.map((d: any) => [d.resource, d.tradePrice]), [['image', 0.8], ['snapshotStorage', 0]]);
  const mp = await price(mpImage, 'ecs.g7.xlarge');
  assert.equal(mp.price.tradePrice, 0.3);
  assert.equal(mp.relatedPrice.marketplaceImagePrice.tradePrice, 0.3);
  assert.equal((await price(LINUX, 'ecs.g7.large')).price.tradePrice, 0);
  // Bob's own image: its snapshot's storage, 4 MiB at 10 CNY per GiB-hour = 0.0390625 → 0.039063 per hour.
  const own = (await ecsClient(server.hostPort, bob).describePrice(new Ecs.DescribePriceRequest({ regionId: 'cn-hangzhou', imageId: bobImage, instanceType: 'ecs.g7.large' }))).body.priceInfo;
  assert.deepEqual(own.price.detailInfos.detailInfo.map((d: any) => [d.resource, d.tradePrice]), [['image', 0], ['snapshotStorage', 0.039063]]);
});

test('golden bill: Windows 8 vCPU for 10 h, Marketplace 4 vCPU for 5 h, snapshots, and a deleted image', async () => {
  const s = server.app.services;
  let win = '', mp = '';
  await at(V, async () => {
    [win] = await launchInstances(s, input(alice.accountId, WINDOWS, 'ecs.g7.2xlarge'));
    [mp] = await launchInstances(s, input(alice.accountId, mpImage, 'ecs.g7.xlarge'));
  });
  await at(V + 5 * HOUR, () => deleteInstance(s, mp, alice.accountId, { force: true }));
  await at(V + 6 * HOUR, () => deleteImage(s, { region: 'cn-hangzhou', imageId: bobImage, owner: bob.accountId, force: false }));
  await at(V + 10 * HOUR, () => deleteInstance(s, win, alice.accountId, { force: true }));
  await at(V + 20 * HOUR + 1234);

  const a = await billFor(s, alice.accountId, month);
  assert.deepEqual(a.lines.map((l) => [l.kind, l.hours, l.amount]), [['license', 10, '8.00'], ['marketplace_hourly', 5, '1.50']]);
  assert.equal(a.total, '9.50');

  // 8 MiB at 10 CNY/GiB-h = 0.078125/h; 20 h = 1.5625 → 1.56 (the ISV pays its version's snapshot).
  const i = await billFor(s, isv.accountId, month);
  assert.deepEqual(i.lines.map((l) => [l.kind, l.resourceId, l.hours, l.amountMicro, l.amount]), [['snapshot_storage', isvSnapshot, 20, 1_562_500, '1.56']]);
  // Bob: 4 MiB → 0.0390625 → 39063 µ/h; 6 h while it backed his image (234378 µ → 0.23), 14 h after (546882 µ → 0.55).
  const b = await billFor(s, bob.accountId, month);
  assert.deepEqual(b.lines.map((l) => [l.resourceId, l.detail, l.hours, l.amountMicro, l.amount]),
    [[bobSnapshot, '', 14, 546_882, '0.55'], [bobSnapshot, `image ${bobImage}`, 6, 234_378, '0.23']]);
  assert.equal(b.total, '0.78');

  const r = await revenueFor(s, isv.accountId, month);
  assert.deepEqual(r.products.map((p) => [p.productCode, p.customers, p.amount]), [['acme-lamp', 1, '1.50']]);

  // Idempotent: metering the same hours again records nothing.
  assert.equal((await meterHours(s, V, V + 20 * HOUR)).recorded, 0);
});

test('the bill over HTTP and through the CLI is the same bill', async () => {
  virtual = undefined;
  const expected = await billFor(server.app.services, alice.accountId, month);
  const res = await dataRequest(dataConfig(server, alice), 'GET', '/billing/bill', { Month: month });
  const { RequestId, ...body } = (await res.json()) as any;
  assert.ok(RequestId);
  assert.deepEqual(body, JSON.parse(JSON.stringify(expected)));
  const env = { IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: alice.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: alice.accessKeySecret, IMAGEHOUSE_REGION: 'cn-hangzhou' };
  const json = await runCli(['billing', 'bill', '--month', month, '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), body);
  const human = await runCli(['billing', 'bill', '--month', month], env);
  assert.match(human.stdout, /license .* 10 h +8\.00/);
  assert.match(human.stdout, /TOTAL +9\.50/);
  const bad = await dataRequest(dataConfig(server, alice), 'GET', '/billing/bill', { Month: '2026-13' }).catch((e) => e);
  assert.equal(bad.code, 'InvalidMonth.Malformed');
});

test('property: usage only in hours a resource existed, and every bill is the sum of its lines', async () => {
  const s = server.app.services;
  const carol = await server.account('carol');
  const start = V + 48 * HOUR;
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const types = ['ecs.g7.large', 'ecs.g7.xlarge', 'ecs.g7.2xlarge', 'ecs.g7.4xlarge'];
  const lives: { id: string; from: number; to: number }[] = [];
  const events: { t: number; run: () => Promise<void> }[] = [];
  for (let k = 0; k < 12; k++) {
    const from = start + rnd(40 * 60) * 60_000;
    const to = from + (1 + rnd(20 * 60)) * 60_000;
    const life = { id: '', from, to };
    lives.push(life);
    events.push({ t: from, run: async () => { [life.id] = await launchInstances(s, input(carol.accountId, rnd(2) ? WINDOWS : LINUX, types[rnd(4)])); } });
    events.push({ t: to, run: () => deleteInstance(s, life.id, carol.accountId, { force: true }) });
  }
  events.sort((x, y) => x.t - y.t);
  for (const e of events) {
    virtual = e.t;
    await e.run();
  }
  virtual = start + 80 * HOUR;
  await meterHours(s, start, virtual);
  const db = billingDb(s.db);
  const records = await db.selectFrom('usage_records').selectAll().where('account_id', '=', carol.accountId).execute();
  const seats = await db.selectFrom('billing_seats').selectAll().where('account_id', '=', carol.accountId).execute();
  let expectedHours = 0;
  for (const life of lives) {
    const seat = seats.find((x) => x.instance_id === life.id)!;
    const hours = records.filter((r) => r.resource_id === seat.disk_id).map((r) => Number(r.hour));
    for (const h of hours) assert.ok(h < life.to && h + HOUR > life.from, `usage at ${h} outside [${life.from}, ${life.to})`);
    if (seat.license_class === 'windows') {
      const touched = (hourOf(life.to - 1) - hourOf(life.from)) / HOUR + 1;
      assert.equal(hours.length, touched);
      expectedHours += touched;
    } else assert.equal(hours.length, 0);
  }
  assert.equal(records.length, expectedHours);
  for (const m of new Set(records.map((r) => new Date(Number(r.hour)).toISOString().slice(0, 7)))) {
    const bill = await billFor(s, carol.accountId, m);
    assert.equal(bill.totalCents, bill.lines.reduce((sum, l) => sum + l.amountCents, 0));
    const inMonth = records.filter((r) => new Date(Number(r.hour)).toISOString().slice(0, 7) === m);
    assert.equal(bill.lines.reduce((sum, l) => sum + l.amountMicro, 0), inMonth.reduce((sum, r) => sum + Number(r.amount_micro), 0));
  }
});
