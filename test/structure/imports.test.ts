/**
 * The layer rules of src/README.md, checked on the import graph: no arrow from a lower layer to a higher one,
 * no API surface importing another (but the console, which runs ECS actions), and no import cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** What each top-level folder (or file) of src/ may import, besides itself. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: [],
  store: ['domain'],
  formats: ['domain'],
  blobs: ['domain', 'store', 'formats'],
  jobs: ['domain', 'store'],
  vm: ['domain'],
  services: ['domain', 'store', 'formats', 'blobs', 'jobs'],
  api: ['domain', 'store', 'formats', 'blobs', 'jobs', 'services'],
  'config.ts': [],
  'app.ts': ['domain', 'store', 'formats', 'blobs', 'jobs', 'vm', 'services', 'api', 'config.ts'],
  cli: ['domain', 'store', 'formats', 'blobs', 'jobs', 'vm', 'services', 'api', 'config.ts', 'app.ts'],
};

/** Surfaces under api/ that may use another: the console is a client of the ECS surface. Shared plumbing is api/http. */
const SURFACE_MAY_USE: Record<string, readonly string[]> = { console: ['ecs'] };

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mjs)$/.test(e.name) ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.')) out.push(path.resolve(path.dirname(file), spec));
  }
  return out;
}

/** `services`, `api`, `app.ts` …: the unit the rules speak of. */
function layerOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0];
}

/** For api/<surface>/…: the surface name. */
function surfaceOf(file: string): string | undefined {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts[0] === 'api' && parts.length > 2 ? parts[1] : undefined;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(SRC + path.sep))]));

test('every import follows the layer table of src/README.md', () => {
  const wrong: string[] = [];
  let edges = 0;
  for (const [from, targets] of graph) {
    for (const to of targets) {
      edges++;
      const a = layerOf(from);
      const b = layerOf(to);
      assert.ok(a in MAY_IMPORT, `${path.relative(SRC, from)} is in a folder src/README.md does not place`);
      if (a !== b && !MAY_IMPORT[a].includes(b)) wrong.push(`${path.relative(SRC, from)} → ${path.relative(SRC, to)} (${a} may not import ${b})`);
      const sa = surfaceOf(from);
      const sb = surfaceOf(to);
      if (sa && sb && sa !== sb && sb !== 'http' && !SURFACE_MAY_USE[sa]?.includes(sb)) {
        wrong.push(`${path.relative(SRC, from)} → ${path.relative(SRC, to)} (surface ${sa} may not import surface ${sb})`);
      }
    }
  }
  console.log(`# ${files.length} files, ${edges} imports checked`);
  assert.deepEqual(wrong, []);
});

test('there is no import cycle', () => {
  // Tarjan's strongly connected components over the file graph.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(path.relative(SRC, w));
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  };
  for (const f of graph.keys()) if (!idx.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('the checker sees a forbidden arrow and a cycle when there is one', () => {
  // Guards the checker itself: a regexp that matched nothing would pass every tree.
  const sample = importsOf(path.join(SRC, 'app.ts'));
  assert.ok(sample.some((t) => layerOf(t) === 'services'), 'app.ts imports services');
  assert.ok(!MAY_IMPORT.domain.includes('services'));
});
