#!/usr/bin/env node
// Entry for the installed bin. Runs the compiled CLI (dist/, built by `npm install` / `npm run build`) when it is
// newer than every source file it was built from; otherwise (a checkout being edited, or no build) the TypeScript
// through tsx, which compiles on every start and is much slower.
import fs from 'node:fs';

// The server's chunk writes, fsyncs and file reads share libuv's thread pool (4 threads unless told otherwise); it
// is created on the first asynchronous file operation, so this must come before any import below.
if (process.argv[2] === 'serve') process.env.UV_THREADPOOL_SIZE ??= '16';

const dist = new URL('../dist/', import.meta.url);
const root = new URL('../', import.meta.url);

function distIsFresh() {
  try {
    const built = fs.statSync(new URL('cli.js', dist)).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(new URL('inputs.json', dist), 'utf8'));
    return inputs.every((file) => fs.statSync(new URL(file, root)).mtimeMs <= built);
  } catch {
    return false;
  }
}

let runMain;
if (distIsFresh()) {
  ({ runMain } = await import('../dist/cli.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runMain } = await import('../src/cli/main.ts'));
}
await runMain(process.argv.slice(2));
