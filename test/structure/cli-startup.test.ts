/**
 * What every `imagehouse` call loads before its command runs: the static imports reachable from src/cli/main.ts.
 * No npm package may be among them: kysely alone is 279 modules, and loading it doubled the start of every command
 * (an upload, `--help`). Commands that need the store, the app or their use cases import them through cli/admin.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Value imports and re-exports evaluated when the module loads; `import type` and `import()` are not. */
const STATIC_IMPORT = /(?:^|\n)\s*(?:import|export)\s+(type\s)?[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

/** Each package the graph reaches, with the chain of modules that reaches it. */
function packagesReached(entry: string): Map<string, string[]> {
  const parent = new Map<string, string | undefined>([[entry, undefined]]);
  const packages = new Map<string, string[]>();
  const chainTo = (file: string) => {
    const chain: string[] = [];
    for (let f: string | undefined = file; f; f = parent.get(f)) chain.unshift(path.relative(SRC, f));
    return chain;
  };
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift()!;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (m[1]) continue;
      const spec = m[2] ?? m[3];
      if (spec.startsWith('.')) {
        const target = path.resolve(path.dirname(file), spec);
        if (!parent.has(target)) {
          parent.set(target, file);
          queue.push(target);
        }
      } else if (!spec.startsWith('node:') && !packages.has(spec)) {
        packages.set(spec, chainTo(file));
      }
    }
  }
  return packages;
}

test('starting the CLI loads no npm package: the store, the app and the admin use cases load with the commands that need them', () => {
  const reached = packagesReached(path.join(SRC, 'cli/main.ts'));
  assert.deepEqual([...reached].map(([pkg, chain]) => `${pkg} ← ${chain.join(' → ')}`), []);
});

test('the walk finds a package imported on the way', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-cli-startup-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.ts'), "import type { X } from 'typed-only';\nimport { b } from './b.ts';\nexport const a = () => import('lazy');\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "export { sql } from 'kysely';\nimport fs from 'node:fs';\n");
    assert.deepEqual([...packagesReached(path.join(dir, 'a.ts')).keys()], ['kysely']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
