import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { runCli } from '../support/cli.ts';
import { needing } from '../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let dir: string;
let raw: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-cli-'));
  raw = path.join(dir, 'disk.raw');
  // 21 MiB + 512 bytes, sparse, data in scattered places including the last sector.
  const fd = fs.openSync(raw, 'w');
  fs.ftruncateSync(fd, 21 * 1024 * 1024 + 512);
  for (const off of [0, 5 * 1024 * 1024 + 4096, 13 * 1024 * 1024]) fs.writeSync(fd, crypto.randomBytes(256 * 1024), 0, 256 * 1024, off);
  fs.writeSync(fd, Buffer.from('last sector'), 0, 11, 21 * 1024 * 1024);
  fs.closeSync(fd);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('inspect --json prints the inspection of a qemu-made qcow2', async () => {
  const q = path.join(dir, 'a.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, q]);
  const r = await runCli(['inspect', q, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.format, 'qcow2');
  assert.equal(out.virtualSize, 21 * 1024 * 1024 + 512);
  assert.ok(out.allocatedBytes > 0 && out.allocatedBytes < out.virtualSize);
});

test('convert goes through every output format and qemu-img compare agrees with the source', async () => {
  const vmdk = path.join(dir, 'a.vmdk');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk]);
  for (const [format, qemuName] of [['qcow2', 'qcow2'], ['vhd', 'vpc'], ['vhd-fixed', 'vpc'], ['raw', 'raw'], ['vmdk', 'vmdk']]) {
    const out = path.join(dir, `out.${format}`);
    const r = await runCli(['convert', vmdk, out, '--format', format]);
    assert.equal(r.code, 0, r.stderr);
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', qemuName, raw, out]); // throws unless identical
  }
});

test('a rejected input exits non-zero with one clear line', async () => {
  const evil = path.join(dir, 'evil.qcow2');
  execFileSync('qemu-img', ['create', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/passwd', '-u', evil, '1G'], { stdio: 'ignore' });
  for (const args of [['inspect', evil], ['convert', evil, path.join(dir, 'leak.raw'), '--format', 'raw']]) {
    const r = await runCli(args);
    assert.equal(r.code, 3);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^rejected: InvalidImage\.BackingFile: /);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'leak.raw')) || !fs.readFileSync(path.join(dir, 'leak.raw')).includes('root:'), 'nothing of the host file leaked');
  const mismatch = await runCli(['inspect', path.join(dir, 'a.qcow2'), '--format', 'raw']);
  assert.equal(mismatch.code, 3);
  assert.match(mismatch.stderr, /InvalidImageFormat\.Mismatch/);
});

test('--help lists the commands and each command explains itself', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['serve', 'account create', 'inspect', 'convert']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  const c = await runCli(['convert', '--help']);
  assert.match(c.stdout, /Usage: imagehouse convert IN OUT --format/);
  assert.match(c.stdout, /Example/);
});
