/**
 * Kysely builds and compiles a query on every call (parsing, freezing and visiting its node tree), which costs more
 * than running an indexed lookup: 30–60 µs against SQLite's 5–10 µs. For the statements every request runs, a query
 * is built once per shape (the lengths of its list arguments) with marker values, and later calls bind their values
 * into the compiled SQL. The memo holds SQL text per dialect, never a connection: the caller hands in the database.
 * On PostgreSQL these statements are also prepared on the server under a name (`statementName`, used by the store's
 * pg client), so PostgreSQL parses and plans each once per connection instead of on every call: planning the lookup
 * by ID cost its backend 0.4–0.9 ms, eight times its execution.
 */
import type { Compilable, CompiledQuery, Kysely } from 'kysely';

type Value = string | number;
export type PreparedArg = Value | readonly Value[];

const MARK = '\u0000arg';

interface Shape { query: CompiledQuery<unknown>; slots: ([number, number] | undefined)[] }

/** Server-side statement names by SQL text: the statements built here (a few dozen shapes) and those run by executeNamed. */
const names = new Map<string, string>();
/** executeNamed names at most this many texts (each connection may hold each one's plan); later ones run unnamed. */
const MAX_NAMED = 64;
let namedByCaller = 0;

/** The name to prepare `sql` under; statements that were not built here or run by executeNamed stay unnamed. */
export function statementName(sql: string): string | undefined {
  return names.get(sql);
}

/**
 * Runs a query whose shape varies with its filters (so prepared() cannot build it once) as a named statement on
 * PostgreSQL: a listing's few shapes recur on every page. A statement whose result includes `*` runs unnamed.
 */
export async function executeNamed<R>(db: Kysely<any>, query: Compilable<R>): Promise<R[]> {
  const compiled = query.compile();
  if (!names.has(compiled.sql) && namedByCaller < MAX_NAMED && !selectsEvery(compiled.query)) {
    namedByCaller++;
    names.set(compiled.sql, `ih_${names.size}`);
  }
  return (await db.executeQuery(compiled)).rows;
}

/**
 * `build` must only bind its arguments as values (no branching on them, no literals): the first call checks that each
 * marker comes back as a parameter.
 */
export function prepared<A extends PreparedArg[], R>(build: (db: Kysely<any>, ...args: A) => Compilable<R>): (db: Kysely<any>, ...args: A) => Promise<R[]> {
  const shapes = new Map<unknown, Map<string, Shape>>();
  return async (db, ...args) => {
    const dialect = db.getExecutor().adapter.constructor;
    let byShape = shapes.get(dialect);
    if (!byShape) shapes.set(dialect, (byShape = new Map()));
    const key = args.map((a) => (Array.isArray(a) ? a.length : '.')).join(',');
    let shape = byShape.get(key);
    if (!shape) byShape.set(key, (shape = compileShape(db, build, args)));
    const { query, slots } = shape;
    const parameters = slots.map((slot, k) => {
      if (!slot) return query.parameters[k];
      const a = args[slot[0]];
      return Array.isArray(a) ? a[slot[1]] : a;
    });
    return (await db.executeQuery<R>({ ...query, parameters } as CompiledQuery<R>)).rows;
  };
}

interface ResultNode { kind: string; selections?: readonly Selection[]; returning?: { selections: readonly Selection[] } }
interface Selection { selection: { kind: string; column?: { kind: string } } }

/**
 * True when the statement's result includes `*` or `t.*`. Such a statement stays unnamed: once another node's migration
 * adds a column, PostgreSQL refuses to run a prepared one ("cached plan must not change result type"), and the pg
 * driver would go on using that name on its connection.
 */
function selectsEvery(node: ResultNode): boolean {
  const selections = [...(node.selections ?? []), ...(node.returning?.selections ?? [])];
  return selections.some(({ selection: s }) => s.kind === 'SelectAllNode' || (s.kind === 'ReferenceNode' && s.column?.kind === 'SelectAllNode'));
}

function compileShape<A extends PreparedArg[]>(db: Kysely<any>, build: (db: Kysely<any>, ...args: A) => Compilable<unknown>, args: A): Shape {
  const marks = args.map((a, i) => (Array.isArray(a) ? a.map((_, j) => `${MARK}${i}.${j}`) : `${MARK}${i}.0`)) as unknown as A;
  const query = build(db, ...marks).compile();
  const seen = new Set<string>();
  const slots = query.parameters.map((p) => {
    if (typeof p !== 'string' || !p.startsWith(MARK)) return undefined;
    seen.add(p);
    const [i, j] = p.slice(MARK.length).split('.').map(Number);
    return [i, j] as [number, number];
  });
  const expected = args.reduce<number>((n, a) => n + (Array.isArray(a) ? a.length : 1), 0);
  if (seen.size !== expected) throw new Error(`prepared query binds ${seen.size} of its ${expected} values`);
  if (!names.has(query.sql) && !selectsEvery(query.query)) names.set(query.sql, `ih_${names.size}`);
  return { query, slots };
}
