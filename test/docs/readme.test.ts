/**
 * The README's code runs as written. Blocks fenced as `sh test` or `js test` run in order, in the checkout (as a
 * reader runs them), against a server started the way the README starts it, with the environment a reader would
 * have set (IMAGEHOUSE_DATA, IMAGEHOUSE_PORT). The only change made to a block: `LTAI…` and `…` become the
 * AccessKey pair that the README's `account create` block printed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../support/wait.ts';
import { freePort } from '../support/ports.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Block { lang: 'sh' | 'js'; code: string; line: number }

/** The runnable blocks: a fence whose info string is `sh test` or `js test`. */
function runnableBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/^```(sh|js) test\n([\s\S]*?)^```$/gm)) {
    blocks.push({ lang: m[1] as Block['lang'], code: m[2], line: markdown.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-readme-'));
const scratch = path.join(ROOT, '.tmp');
let server: ChildProcess;
let env: Record<string, string>;


before(async () => {
  const port = await freePort();
  env = {
    ...(Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('IMAGEHOUSE_'))) as Record<string, string>),
    IMAGEHOUSE_DATA: path.join(dir, 'data'), IMAGEHOUSE_PORT: String(port), IMAGEHOUSE_NBD_PORT: '0',
    IMAGEHOUSE_CONFIG: path.join(dir, 'config.json'), IMAGEHOUSE_LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  server = spawn(process.execPath, ['bin/imagehouse.js', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  server.stderr!.on('data', (d) => { err += d; });
  await waitFor(() => err.includes('listening on'), { what: `the server to start: ${err}`, timeoutMs: 120_000 });
  fs.mkdirSync(scratch, { recursive: true });
});

after(async () => {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  fs.rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the README has runnable blocks: account create, the CLI with its keys, and the SDK snippet', () => {
  const blocks = runnableBlocks(README);
  assert.ok(blocks.some((b) => b.lang === 'sh' && /imagehouse account create/.test(b.code)));
  assert.ok(blocks.some((b) => b.lang === 'js' && /describeImages/.test(b.code)));
  for (const m of README.matchAll(/^```(.*)\n[\s\S]*?^```$/gm)) assert.notEqual(m[1], '', 'every block names its language (transcripts are `text`)');
});

test('every runnable README block runs as written, in order, against the started server', async () => {
  let keys: { accessKeyId: string; accessKeySecret: string } | undefined;
  const withKeys = (code: string) => keys ? code.replaceAll('LTAI…', keys.accessKeyId).replaceAll('…', keys.accessKeySecret) : code;
  for (const [i, block] of runnableBlocks(README).entries()) {
    const where = `README.md line ${block.line}`;
    const code = withKeys(block.code);
    let r;
    if (block.lang === 'sh') {
      r = await run('bash', ['-euo', 'pipefail', '-c', code]);
    } else {
      const file = path.join(scratch, `readme-${process.pid}-${i}.mjs`);
      fs.writeFileSync(file, code);
      try {
        r = await run(process.execPath, [file]);
      } finally {
        fs.rmSync(file, { force: true });
      }
    }
    assert.equal(r.code, 0, `${where} failed:\n${r.stderr}`);
    assert.ok(r.stdout.trim(), `${where} prints a result`);
    if (!keys && /account create/.test(block.code)) keys = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }
  assert.ok(keys, 'a block created an account');
});
