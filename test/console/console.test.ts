/**
 * The web console in real Chromium (Debian's package, driven by playwright-core): sign-in, import through the
 * upload form until Available, share, see it as the other account, delete; the launch cost of an image, the
 * Marketplace, and the bill of a month (the service clock is moved two hours ahead so those hours get metered).
 * Screenshots go to test-artifacts/console; with IMAGEHOUSE_UPDATE_SCREENSHOTS=1 the billing one also refreshes docs/screenshots/billing.png.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServerWith, type TestServer } from '../support/server.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { publishProduct } from '../../src/services/marketplace/products.ts';
import { CHROMIUM, needing } from '../support/requires.ts';

const { after, before, test } = needing('chromium', 'qemu-img');


const SHOTS = path.resolve(import.meta.dirname, '../../test-artifacts/console');
const DOC_SHOT = path.resolve(import.meta.dirname, '../../docs/screenshots/billing.png');
const WINDOWS = 'win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd';
const HOUR = 3_600_000;

let clockOffset = 0;
const clock = { now: () => Date.now() + clockOffset };

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let dir: string;
let context: BrowserContext;
let page: Page;

before(async () => {
  ({ server, accounts: { alice, bob } } = await startServerWith(['alice', 'bob'], { clock }));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-console-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error('page error:', e));
});
after(async () => {
  await context?.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(account: NewAccount): Promise<void> {
  await page.goto(`${server.endpoint}/console/`);
  await page.getByLabel('AccessKeyId').fill(account.accessKeyId);
  await page.getByLabel('AccessKeySecret').fill(account.accessKeySecret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Account ${account.accountId}`).waitFor();
}

async function signOut(): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
}

test('sign-in gives an HttpOnly, SameSite=Strict cookie; the secret stays out of the browser; CSRF is enforced', async () => {
  await page.goto(`${server.endpoint}/console/`);
  await shot('signin');
  await page.getByLabel('AccessKeyId').fill(alice.accessKeyId);
  await page.getByLabel('AccessKeySecret').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'InvalidAccessKeyId.NotFound' }).waitFor();

  await signIn(alice);
  const cookies = await context.cookies();
  assert.equal(cookies.length, 1);
  assert.deepEqual([cookies[0].httpOnly, cookies[0].sameSite, cookies[0].path], [true, 'Strict', '/console']);
  const stored = await page.evaluate<string>('JSON.stringify([document.cookie, { ...localStorage }, { ...sessionStorage }])');
  assert.ok(!stored.includes(alice.accessKeySecret) && !stored.includes(cookies[0].value), stored);

  const csrf = await page.evaluate(async () => {
    const noToken = await fetch('/console/api/call/DescribeInstances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"RegionId":"cn-hangzhou"}' });
    const session: any = await (await fetch('/console/api/session')).json();
    const withToken = await fetch('/console/api/call/DescribeInstances', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.CsrfToken }, body: '{"RegionId":"cn-hangzhou"}' });
    return [noToken.status, ((await noToken.json()) as any).Code, withToken.status];
  });
  assert.deepEqual(csrf, [403, 'Forbidden', 200]);
  await page.getByRole('tab', { name: 'Public' }).click();
  await page.getByRole('cell', { name: /ubuntu_24_04_x64/ }).first().waitFor();
  await shot('images-public');
});

test('import through the upload form until Available, share it, see it as the other account, delete it', async () => {
  const file = path.join(dir, 'small.qcow2');
  const raw = path.join(dir, 'small.raw');
  fs.writeFileSync(raw, Buffer.alloc(8 * 1024 * 1024, 7));
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, file]);

  await page.getByRole('link', { name: 'Import', exact: true }).click();
  await page.getByLabel('Disk file').setInputFiles(file);
  await page.getByLabel('Image name').fill('console-import');
  await page.getByRole('button', { name: 'Upload and import' }).click();
  const link = page.getByRole('link', { name: /^Importing as m-/ });
  await link.waitFor();
  const imageId = (await link.textContent())!.match(/m-[0-9a-z]+/)![0];
  assert.equal(await page.getByLabel('Upload progress').evaluate((el) => (el as any).value), 100);
  await shot('import');

  await link.click();
  for (let i = 0; i < 120; i++) {
    if (await page.getByRole('heading', { name: /console-import Available/ }).isVisible()) break;
    await page.waitForTimeout(500);
    await page.reload();
    await page.getByText('Image ID').first().waitFor();
  }
  await page.getByRole('heading', { name: /console-import Available/ }).waitFor({ timeout: 1000 });

  await page.getByLabel('Account ID').fill(bob.accountId);
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await page.getByRole('cell', { name: bob.accountId }).waitFor();
  await shot('image-detail');

  for (const [name, label] of [['instances', 'Instances'], ['snapshots', 'Snapshots'], ['tasks', 'Tasks']]) {
    await page.getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { name: label }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Loading' }).waitFor({ state: 'detached' });
    await shot(name);
  }
  await page.getByRole('cell', { name: 'ImportImage' }).waitFor();
  await signOut();

  await signIn(bob);
  await page.getByRole('tab', { name: 'Shared with me' }).click();
  await page.getByRole('link', { name: imageId }).waitFor();
  await shot('images-shared');
  await signOut();

  await signIn(alice);
  await page.goto(`${server.endpoint}/console/#/image?id=${imageId}&region=cn-hangzhou`);
  await page.getByText(/its snapshots stay/i).waitFor();
  await page.getByLabel('Type the image ID to confirm').fill('not-it');
  await page.getByRole('button', { name: 'Delete image' }).click();
  await page.getByRole('alert').filter({ hasText: 'does not match' }).waitFor();
  await page.getByLabel('Type the image ID to confirm').fill(imageId);
  await page.getByRole('button', { name: 'Delete image' }).click();
  await page.getByRole('alert').filter({ hasText: 'ImageUseShared' }).waitFor();
  await page.getByRole('button', { name: 'Unshare' }).click();
  await page.getByText('Not shared with anyone.').waitFor();
  await page.getByLabel('Type the image ID to confirm').fill(imageId);
  await page.getByRole('button', { name: 'Delete image' }).click();
  await page.getByRole('tab', { name: 'Custom', selected: true }).waitFor();
  await page.getByText('No custom images yet').waitFor();
  await shot('images-custom-empty');
});

test('launch cost in the image view, Marketplace subscribe, the bill with its daily chart and storage per image', async () => {
  await publishProduct(server.app.services, {
    isvId: bob.accountId, code: 'acme-lamp', name: 'ACME LAMP', description: 'LAMP stack', priceModel: 'hourly', hourlyTiers: [{ maxVcpu: 4, micro: 300_000 }],
  });
  await publishProduct(server.app.services, { isvId: bob.accountId, code: 'acme-db', name: 'ACME DB', priceModel: 'monthly', monthlyMicro: 50_000_000 });
  const month = new Date(clock.now()).toISOString().slice(0, 7);

  // The snapshot left by the deleted import becomes a new image, so its storage shows under that image.
  await page.getByRole('link', { name: 'Snapshots', exact: true }).click();
  const snapshotId = (await page.getByRole('cell', { name: /^s-/ }).first().textContent())!;
  await page.getByRole('link', { name: 'Images', exact: true }).click();
  const create = page.getByRole('form', { name: 'Create image' });
  await create.getByLabel('From snapshot ID').fill(snapshotId);
  await create.getByLabel('Name').fill('from-snapshot');
  await create.getByRole('button', { name: 'Create image' }).click();
  const created = (await create.getByRole('link', { name: /^Creating m-/ }).textContent())!.match(/m-[0-9a-z]+/)![0];

  await page.goto(`${server.endpoint}/console/#/image?id=${WINDOWS}&region=cn-hangzhou`);
  await page.getByText('0.20 CNY on ecs.g7.large').waitFor();
  await page.getByRole('button', { name: 'Launch', exact: true }).click();
  await page.getByText(/^Launched i-/).waitFor();
  await shot('image-cost');

  await page.getByRole('link', { name: 'Marketplace', exact: true }).click();
  await page.getByRole('cell', { name: '0.30 CNY/hour up to 4 vCPU' }).waitFor();
  await page.getByRole('cell', { name: '50.00 CNY/month' }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'Subscribed' }).count(), 0);
  await page.getByRole('button', { name: 'Subscribe to acme-db' }).click();
  await page.getByRole('row', { name: /acme-db.*Subscribed/ }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Subscribe to acme-lamp' }).count(), 1);
  await shot('marketplace');

  clockOffset = 2 * HOUR; // two ended hours: 2 × 0.20 licence + the 50.00 subscription
  await page.getByRole('link', { name: 'Billing', exact: true }).click();
  await page.goto(`${server.endpoint}/console/#/billing?month=${month}`);
  await page.getByRole('heading', { name: `Bill for ${month}` }).waitFor();
  await page.getByRole('cell', { name: 'OS licence' }).first().waitFor();
  await page.getByRole('cell', { name: 'Marketplace subscription' }).waitFor();
  const total = (await page.getByText(/^Total: /).textContent())!;
  assert.match(total, /^Total: 50\.[0-9]{2} CNY$/);
  const licenceCents = await page.getByRole('row', { name: /OS licence/ }).evaluateAll((rows) => rows.reduce((s, r) => s + Math.round(Number(r.lastElementChild!.textContent) * 100), 0));
  assert.ok(licenceCents >= 40 && licenceCents <= 60, `licence ${licenceCents}`); // 2 hours, 3 when a day or month boundary splits them
  const chart = page.getByRole('img', { name: `Cost per day, ${month} (CNY)` });
  const bars = await chart.locator('rect.bar').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
  const days = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).getUTCDate();
  assert.equal(bars.length, days);
  assert.ok(bars.some((b) => b > 100), String(bars));
  const storage = page.locator('.card').filter({ hasText: 'Snapshot storage per image' });
  await storage.getByRole('link', { name: created }).waitFor();
  await storage.getByRole('cell', { name: snapshotId }).waitFor();
  await shot('billing');
  // The README's screenshot is a tracked file: refresh it only when asked, so a test run leaves the tree clean.
  if (process.env.IMAGEHOUSE_UPDATE_SCREENSHOTS === '1') {
    await page.setViewportSize({ width: 1100, height: 1000 });
    await page.screenshot({ path: DOC_SHOT });
    await page.setViewportSize({ width: 1200, height: 800 });
  }

  await page.getByLabel('Month', { exact: true }).fill('2001-01');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByText('No usage in 2001-01.').waitFor();
  await page.getByText('Total: 0.00 CNY').waitFor();
  assert.equal(await page.getByRole('img', { name: 'Cost per day, 2001-01 (CNY)' }).locator('rect.bar').count(), 31);
  await shot('billing-empty');
});
