/** Issue 11 item 5: an unknown flag is a usage error (exit 2) naming the closest flag, never silently ignored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.ts';
import { COMMANDS, knownFlags } from '../../src/cli/main.ts';
import { closestFlag } from '../../src/cli/flags.ts';

test('account create with a bogus flag fails with exit 2 and creates nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-flags-'));
  try {
    const r = await runCli(['account', 'create', '--name', 'x', '--bogus-flag', '--data', dir]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /unknown flag --bogus-flag/);
    assert.equal(r.stdout, '');
    const list = await runCli(['account', 'list', '--json', '--data', dir]);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(!JSON.parse(list.stdout).some((a: any) => a.name === 'x'), 'no account was created');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a typo suggests the closest flag instead of acting in the default region', async () => {
  const r = await runCli(['image', 'list', '--regoin', 'cn-beijing'], { IMAGEHOUSE_ENDPOINT: 'http://127.0.0.1:9', IMAGEHOUSE_ACCESS_KEY_ID: 'a', IMAGEHOUSE_ACCESS_KEY_SECRET: 'b' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown flag --regoin; did you mean --region\?/);
  assert.equal(closestFlag('decription', ['description', 'name']), 'description');
  assert.equal(closestFlag('pagesize', ['page', 'page-size']), 'page-size');
  assert.equal(closestFlag('zzzzzz', ['name', 'json']), undefined);
});

test('documented flags still work (global options and the command\'s own)', async () => {
  const r = await runCli(['image', 'list', '--help']);
  assert.equal(r.code, 0);
  const c = await runCli(['completion', 'bash', '--profile', 'default']);
  assert.equal(c.code, 0, c.stderr);
});

test('every flag a command file reads is one its commands take (usage or global options)', async () => {
  const dir = path.resolve(import.meta.dirname, '../../src/cli/commands');
  const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  let checked = 0;
  for (const f of files) {
    const mod = await import(path.join(dir, f));
    const commands = COMMANDS.filter((c) => Object.values(mod).includes(c));
    if (commands.length === 0) continue;
    const known = new Set(commands.flatMap(knownFlags));
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    const read = [...src.matchAll(/flags\.([a-zA-Z]+)\b(?!\.ts)|flags\['([a-z-]+)'\]|\(flags, '([a-z-]+)'/g)].map((m) => m[1] ?? m[2] ?? m[3]).filter((n) => n !== 'ts');
    for (const name of read) {
      assert.ok(known.has(name), `${f} reads --${name}, which none of its commands' usage names`);
      checked++;
    }
  }
  assert.ok(checked > 50, `checked ${checked} flag reads`);
});
