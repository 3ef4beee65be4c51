/** bin/imagehouse.js runs the build in dist/ only while it is newer than every source file it was built from. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-bin-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A checkout in miniature: the real bin, a dist/ and a src/ whose runMain each say which one ran. */
function checkout(): string {
  const root = fs.mkdtempSync(path.join(dir, 'checkout-'));
  fs.mkdirSync(path.join(root, 'bin'));
  fs.copyFileSync(path.join(ROOT, 'bin/imagehouse.js'), path.join(root, 'bin/imagehouse.js'));
  fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}');
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  fs.mkdirSync(path.join(root, 'src/cli'), { recursive: true });
  fs.writeFileSync(path.join(root, 'src/cli/main.ts'), "export async function runMain(): Promise<void> { console.log('src'); }\n");
  fs.mkdirSync(path.join(root, 'dist'));
  fs.writeFileSync(path.join(root, 'dist/cli.js'), "export async function runMain() { console.log('dist'); }\n");
  fs.writeFileSync(path.join(root, 'dist/inputs.json'), JSON.stringify(['src/cli/main.ts']));
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(path.join(root, 'src/cli/main.ts'), past, past);
  return root;
}

const ran = (root: string) => execFileSync(process.execPath, [path.join(root, 'bin/imagehouse.js'), '--help']).toString().trim();

test('dist/ runs when it is newer than its inputs; an edited input, a missing list or no build fall back to tsx', () => {
  const root = checkout();
  assert.equal(ran(root), 'dist');

  const future = new Date(Date.now() + 60_000);
  fs.utimesSync(path.join(root, 'src/cli/main.ts'), future, future);
  assert.equal(ran(root), 'src', 'an input edited after the build');

  const noList = checkout();
  fs.rmSync(path.join(noList, 'dist/inputs.json'));
  assert.equal(ran(noList), 'src', 'no list of inputs');

  const noBuild = checkout();
  fs.rmSync(path.join(noBuild, 'dist'), { recursive: true });
  assert.equal(ran(noBuild), 'src', 'no dist/');
});
