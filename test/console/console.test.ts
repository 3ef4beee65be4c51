/**
 * The web console in real Chromium (Debian's package, driven by playwright-core): sign-in, import through the
 * upload form until Available, share, see it as the other account, delete. Screenshots go to test-artifacts/console.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type TestServer } from '../support/server.ts';
import type { NewAccount } from '../../src/services/accounts.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '../../test-artifacts/console');

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let dir: string;
let context: BrowserContext;
let page: Page;

before(async () => {
  server = await startServer();
  alice = await server.account('alice');
  bob = await server.account('bob');
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
