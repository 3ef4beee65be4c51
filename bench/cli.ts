/**
 * How long the `imagehouse` command takes to start, against a bare `node -e 0` on the same machine (the aim:
 * within 3x). Runs `imagehouse --help` and a signed `image list` (one DescribeImages round trip to a server in
 * this process) through bin/imagehouse.js, each N times alternating with `node -e 0`, and prints medians and ratios.
 * Run `npm run build` first: the bin uses dist/ only when it is newer than every source file.
 *
 * Usage: node --import tsx bench/cli.ts [runs=15]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createAccount } from '../src/services/accounts.ts';

const runs = Number(process.argv[2] ?? 15);
const BIN = path.resolve(import.meta.dirname, '../bin/imagehouse.js');
const MAIN_TS = path.resolve(import.meta.dirname, '../src/cli/main.ts');

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bench-cli-'));
const app = await createApp(loadConfig({ data: dataDir, port: '0', 'nbd-port': '0' }, {}), { logger: false, worker: false });
const endpoint = await app.server.listen({ port: 0, host: '127.0.0.1' });
const account = await createAccount(app.services, { name: 'bench' });
const env = {
  ...process.env,
  IMAGEHOUSE_ENDPOINT: endpoint, IMAGEHOUSE_ACCESS_KEY_ID: account.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: account.accessKeySecret,
  IMAGEHOUSE_REGION: 'cn-hangzhou', IMAGEHOUSE_CONFIG: path.join(dataDir, 'none.json'),
};

/** Wall time of one run (spawned asynchronously: the server in this process must keep answering). */
async function timeOf(args: string[]): Promise<number> {
  const started = performance.now();
  const code = await new Promise<number | null>((resolve) => spawn(process.execPath, args, { env, stdio: 'ignore' }).once('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}`);
  return performance.now() - started;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cases: [string, string[]][] = [
  ['node -e 0', ['-e', '0']],
  ['imagehouse --help', [BIN, '--help']],
  ['imagehouse image list (signed DescribeImages)', [BIN, 'image', 'list', '--owner', 'self']],
  ['--help through tsx (no build; how every call ran before)', ['--import', 'tsx', MAIN_TS, '--help']],
];
const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let i = 0; i < runs; i++) {
  for (const [name, args] of cases) times.get(name)!.push(await timeOf(args));
}
const base = median(times.get('node -e 0')!);
console.log(`| command | median ms (${runs} runs) | / node -e 0 |`);
console.log('|---|---|---|');
for (const [name] of cases) {
  const m = median(times.get(name)!);
  console.log(`| \`${name}\` | ${m.toFixed(0)} | ${(m / base).toFixed(2)} |`);
}
console.log(`\nbin/imagehouse.js ran ${distIsFresh() ? 'dist/' : 'the TypeScript through tsx (dist/ is missing or older than src/: npm run build)'}; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}`);

/** The bin's own rule: dist/cli.js newer than every input the build recorded. */
function distIsFresh(): boolean {
  const root = path.resolve(import.meta.dirname, '..');
  try {
    const built = fs.statSync(path.join(root, 'dist/cli.js')).mtimeMs;
    return (JSON.parse(fs.readFileSync(path.join(root, 'dist/inputs.json'), 'utf8')) as string[]).every((f) => fs.statSync(path.join(root, f)).mtimeMs <= built);
  } catch {
    return false;
  }
}

await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
