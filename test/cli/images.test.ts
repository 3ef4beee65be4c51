/** The real `imagehouse` binary against a real server: profiles, the image commands, --json, errors and hints, completion. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith, type TestServer } from '../support/server.ts';
import { runCli } from '../support/cli.ts';
import { EXIT, type CliIo } from '../../src/cli/command.ts';
import { main, COMMANDS } from '../../src/cli/main.ts';
import type { NewAccount } from '../../src/services/accounts.ts';
import { PUBLIC_X64 } from '../api/disks/support.ts';

let server: TestServer;
let alice: NewAccount;
let bob: NewAccount;
let dir: string;

before(async () => {
  ({ server, accounts: { alice, bob } } = await startServerWith(['alice', 'bob']));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-cli-images-'));
});
after(async () => {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Environment with no credentials at all: only the profile file can supply them. */
function bare(extra: Record<string, string> = {}): Record<string, string> {
  return { IMAGEHOUSE_CONFIG: path.join(dir, 'config.json'), IMAGEHOUSE_ENDPOINT: '', IMAGEHOUSE_ACCESS_KEY_ID: '', IMAGEHOUSE_ACCESS_KEY_SECRET: '', IMAGEHOUSE_REGION: '', IMAGEHOUSE_PROFILE: '', IMAGEHOUSE_POLL_MS: '100', ...extra };
}

function as(account: NewAccount, extra: Record<string, string> = {}): Record<string, string> {
  return bare({ IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: account.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: account.accessKeySecret, IMAGEHOUSE_REGION: 'cn-hangzhou', ...extra });
}

/** The real binary (a child process); empty values are removed from the inherited environment. */
async function bin(args: string[], env: Record<string, string>) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('IMAGEHOUSE_'))) as Record<string, string>;
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const saved = process.env;
  process.env = inherited;
  try {
    return await runCli(args, clean);
  } finally {
    process.env = saved;
  }
}

/** The same CLI in-process (main(argv, io)), for the many calls that need no process of their own. */
async function cli(args: string[], env: Record<string, string>) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: CliIo = { out: (l) => stdout.push(l), err: (l) => stderr.push(l), env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')), isTTY: false };
  const code = await main(args, io);
  return { code, stdout: stdout.join('\n') + '\n', stderr: stderr.join('\n') + '\n' };
}

test('configure writes a 0600 profile file; --profile selects; environment and flags override it', async () => {
  const conf = await bin(['configure', '--profile', 'alice', '--endpoint', server.endpoint, '--region', 'cn-hangzhou',
    '--access-key-id', alice.accessKeyId, '--access-key-secret', alice.accessKeySecret], bare());
  assert.equal(conf.code, EXIT.ok, conf.stderr);
  const file = path.join(dir, 'config.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  await cli(['configure', '--profile', 'bob', '--endpoint', server.endpoint, '--region', 'cn-shanghai',
    '--access-key-id', bob.accessKeyId, '--access-key-secret', bob.accessKeySecret], bare());
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).current, 'bob');

  const listed = JSON.parse((await cli(['configure', 'list', '--json'], bare())).stdout);
  assert.deepEqual(listed.map((p: any) => [p.name, p.current, p.region]), [['alice', false, 'cn-hangzhou'], ['bob', true, 'cn-shanghai']]);
  assert.ok(listed.every((p: any) => !JSON.stringify(p).includes(alice.accessKeySecret) && !JSON.stringify(p).includes(bob.accessKeySecret)), 'secrets masked');

  // The current profile (bob, cn-shanghai) is used, --profile picks alice, the region flag and env override.
  const regionOf = async (args: string[], env = bare()) => {
    const r = await cli(['image', 'list', '--owner', 'system', '--page', '1', '--page-size', '1', '--json', ...args], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    return JSON.parse(r.stdout).Images[0]?.ImageId as string;
  };
  const shanghai = await regionOf([]);
  assert.equal(await regionOf(['--profile', 'bob']), shanghai);
  const hangzhou = await regionOf(['--profile', 'alice']);
  assert.equal(await regionOf(['--region', 'cn-hangzhou']), hangzhou);
  assert.equal(await regionOf([], bare({ IMAGEHOUSE_REGION: 'cn-hangzhou' })), hangzhou);

  const wrong = await bin(['image', 'list'], bare({ IMAGEHOUSE_ACCESS_KEY_SECRET: 'not-the-secret' }));
  assert.equal(wrong.code, EXIT.auth);
  assert.match(wrong.stderr, /^image list: SignatureDoesNotMatch: [\s\S]*\(RequestId [0-9A-F-]+\)\nhint: check the AccessKey secret/m);
  const none = await cli(['image', 'list'], bare({ IMAGEHOUSE_PROFILE: 'nobody' }));
  assert.equal(none.code, EXIT.auth);
  assert.match(none.stderr, /no credentials in profile "nobody": run `imagehouse configure`/);
});

test('create from a snapshot with --wait, share, copy, deprecate, delete: JSON, tables, progress lines without a TTY', async () => {
  const run = await cli(['instance', 'run', '--image', PUBLIC_X64, '--type', 'ecs.g7.large', '--json'], as(alice));
  assert.equal(run.code, EXIT.ok, run.stderr);
  const instanceId = JSON.parse(run.stdout).InstanceIds[0];
  const disks = JSON.parse((await cli(['disk', 'list', '--instance', instanceId, '--json'], as(alice))).stdout);
  const snapshotId = (await cli(['snapshot', 'create', disks[0].DiskId], as(alice))).stdout.trim();
  assert.match(snapshotId, /^s-/);

  const created = await bin(['image', 'create', '--snapshot', snapshotId, '--name', 'cli-base', '--wait', '--json'], as(alice));
  assert.equal(created.code, EXIT.ok, created.stderr);
  const { ImageId: imageId, Status } = JSON.parse(created.stdout);
  assert.equal(Status, 'Available');
  // Without a TTY the progress is whole lines on stderr: no carriage returns, no escape codes.
  assert.match(created.stderr, /^creating: 100% [\d.]+ GiB of [\d.]+ GiB, [\d.]+ (MiB|GiB)\/s, ETA \S+ Available$/m);
  assert.doesNotMatch(created.stderr, /\r|\x1b\[/);
  assert.doesNotMatch(created.stderr, /[\r\x1b]/);

  const dup = await cli(['image', 'create', '--snapshot', snapshotId, '--name', 'cli-base'], as(alice));
  assert.notEqual(dup.code, EXIT.ok);
  assert.match(dup.stderr, /InvalidImageName\.Duplicated[\s\S]*hint: image names are unique/);
  assert.equal((await cli(['image', 'create', '--name', 'x'], as(alice))).code, EXIT.usage);

  const mine = JSON.parse((await cli(['image', 'list', '--owner', 'self', '--json'], as(alice))).stdout);
  assert.deepEqual(mine.map((i: any) => i.ImageId), [imageId]);
  const bySnapshot = JSON.parse((await cli(['image', 'list', '--snapshot', snapshotId, '--json'], as(alice))).stdout);
  assert.deepEqual(bySnapshot.map((i: any) => i.ImageId), [imageId]);
  const human = await cli(['image', 'list', '--owner', 'self'], as(alice));
  const [header, row] = human.stdout.split('\n');
  assert.match(header, /^IMAGE ID\s+NAME\s+OWNER\s+OS\s+ARCH\s+SIZE\s+STATUS\s+PROGRESS\s+CREATED$/);
  assert.match(row, new RegExp(`^${imageId}\\s+cli-base\\s+self\\s.*Available\\s+100%\\s+(just now|\\d+ minutes? ago)$`));
  assert.equal(header.indexOf('STATUS'), row.indexOf('Available'), 'columns align');
  assert.doesNotMatch(human.stdout, /\x1b/, 'no colour without a TTY');

  assert.equal((await cli(['image', 'share', imageId, '--account', bob.accountId], as(alice))).code, EXIT.ok);
  assert.deepEqual(JSON.parse((await cli(['image', 'shares', imageId, '--json'], as(alice))).stdout).map((a: any) => a.AliyunId), [bob.accountId]);
  const seen = JSON.parse((await cli(['image', 'list', '--owner', 'others', '--json'], as(bob))).stdout);
  assert.deepEqual(seen.map((i: any) => i.ImageId), [imageId]);
  const shown = JSON.parse((await cli(['image', 'show', imageId, '--json'], as(alice))).stdout);
  assert.deepEqual(shown.SharedWith, [bob.accountId]);
  assert.equal(shown.DiskDeviceMappings.DiskDeviceMapping[0].SnapshotId, snapshotId);
  assert.equal((await cli(['image', 'delete', imageId], as(bob))).code, EXIT.notFound, "bob cannot delete alice's image");
  assert.equal((await cli(['image', 'unshare', imageId, '--account', bob.accountId], as(alice))).code, EXIT.ok);
  assert.deepEqual(JSON.parse((await cli(['image', 'list', '--owner', 'others', '--json'], as(bob))).stdout), []);

  const copied = await cli(['image', 'copy', imageId, '--to', 'cn-shanghai', '--name', 'cli-base-sh', '--wait', '--json'], as(alice));
  assert.equal(copied.code, EXIT.ok, copied.stderr);
  const copy = JSON.parse(copied.stdout);
  assert.deepEqual([copy.RegionId, copy.SourceImageId, copy.Status], ['cn-shanghai', imageId, 'Available']);
  const inShanghai = JSON.parse((await cli(['image', 'show', copy.ImageId, '--region', 'cn-shanghai', '--json'], as(alice))).stdout);
  assert.equal(inShanghai.ImageName, 'cli-base-sh');

  assert.equal((await cli(['image', 'modify', imageId, '--description', 'from the CLI'], as(alice))).code, EXIT.ok);
  assert.equal((await cli(['image', 'deprecate', imageId], as(alice))).code, EXIT.ok);
  const deprecated = JSON.parse((await cli(['image', 'show', imageId, '--json'], as(alice))).stdout);
  assert.deepEqual([deprecated.Status, deprecated.Description], ['Deprecated', 'from the CLI']);
  assert.equal((await cli(['image', 'undeprecate', imageId], as(alice))).code, EXIT.ok);

  const deleted = await cli(['image', 'delete', imageId, '--force'], as(alice));
  assert.equal(deleted.code, EXIT.ok, deleted.stderr);
  assert.match(deleted.stdout, /snapshots stay; disks created from it can no longer be re-initialised/);
  const gone = await cli(['image', 'show', imageId], as(alice));
  assert.equal(gone.code, EXIT.notFound);
  assert.match(gone.stderr, /InvalidImageId\.NotFound[\s\S]*hint: list the images/);
  assert.deepEqual(JSON.parse((await cli(['snapshot', 'list', '--json'], as(alice))).stdout).map((s: any) => s.SnapshotId), [snapshotId], 'its snapshot stays');

  const regions = JSON.parse((await cli(['region', 'list', '--json'], as(alice))).stdout);
  assert.ok(regions.some((r: any) => r.RegionId === 'cn-shanghai'));
  const down = await cli(['region', 'list'], as(alice, { IMAGEHOUSE_ENDPOINT: 'http://127.0.0.1:9' }));
  assert.equal(down.code, EXIT.unavailable);
  assert.match(down.stderr, /hint: is the service running/);
});

test('every command has --help with an example, and bash completion is generated from the command table', async () => {
  for (const c of COMMANDS) assert.match(c.usage, /Example/, `${c.path.join(' ')} --help has an example`);
  const top = await bin(['--help'], bare());
  assert.equal(top.code, EXIT.ok);
  for (const c of COMMANDS) assert.ok(top.stdout.includes(c.path.join(' ')), c.path.join(' '));
  const sub = await cli(['image', 'copy', '--help'], bare());
  assert.match(sub.stdout, /Usage: imagehouse image copy IMAGE_ID --to REGION[\s\S]*Example:[\s\S]*--profile NAME/);

  const script = await bin(['completion', 'bash'], bare());
  assert.equal(script.code, EXIT.ok);
  const file = path.join(dir, 'completion.bash');
  fs.writeFileSync(file, script.stdout);
  const complete = (line: string) => execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _imagehouse; echo "\${COMPREPLY[*]}"`]).toString().trim().split(' ');
  assert.ok(complete("imagehouse ''").includes('image') && complete("imagehouse ''").includes('configure'));
  assert.deepEqual(complete('imagehouse image sh'), ['share', 'shares', 'show']);
  assert.ok(complete('imagehouse image copy --').includes('--to'));
  assert.ok(complete('imagehouse image copy m-1 --w').includes('--wait'));
  assert.equal((await cli(['completion', 'zsh'], bare())).code, EXIT.usage);
});
