#!/usr/bin/env node
// Compiles the CLI (src/cli/main.ts and everything it imports) to dist/ with esbuild, so `imagehouse` starts
// without compiling TypeScript on every call. Runs at `npm install` (the `prepare` script) and `npm run build`.
// Packages stay external (native better-sqlite3 included): they load from node_modules as they do under tsx.
// Files that find their data next to themselves (`new URL('./regions.json', import.meta.url)`, the hash worker,
// the console's static files) keep finding it in src/: import.meta.url/dirname are rewritten to the source
// file's location, relative to the bundle, so dist/ works wherever the checkout lives.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');

/** `import.meta.url` / `import.meta.dirname` of the source file, computed at run time from the bundle's own URL. */
const sourceLocation = {
  name: 'source-location',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      let text = await fs.promises.readFile(args.path, 'utf8');
      if (text.includes('import.meta.')) {
        const rel = JSON.stringify(path.relative(outdir, args.path).split(path.sep).join('/'));
        text = text
          .replaceAll('import.meta.url', `new URL(${rel}, import.meta.url).href`)
          .replaceAll('import.meta.dirname', `__ihDirname(new URL(${rel}, import.meta.url))`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

fs.rmSync(outdir, { recursive: true, force: true });
const started = Date.now();
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  banner: { js: "import { fileURLToPath as __ihPath } from 'node:url'; import { dirname as __ihDir } from 'node:path'; const __ihDirname = (u) => __ihDir(__ihPath(u));" },
  plugins: [sourceLocation],
});
// bin/imagehouse.js runs dist only while every input is older than it; it compares against this list.
const inputs = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('src/'));
fs.writeFileSync(path.join(outdir, 'inputs.json'), JSON.stringify(inputs));
process.stderr.write(`imagehouse: built dist/ from ${inputs.length} files in ${Date.now() - started} ms\n`);
