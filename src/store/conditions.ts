import { sql, type RawBuilder, type SqlBool } from 'kysely';

/** A condition no row passes (portable: SQLite cannot bind a boolean). */
export const noRows = sql<SqlBool>`1 = 0`;

/**
 * For a LATERAL join (PostgreSQL): the row of `table` whose `column` equals the outer row's `key`, found through
 * `column`'s index one outer row at a time. OFFSET 0 keeps the planner from flattening the subquery into a join,
 * which it would cost with the table's statistics: without them (a database just loaded or restored, before
 * autovacuum's first ANALYZE) the rest of a statement's conditions look as if they matched one row, and a grouped
 * lookup by ID read all 90k of an owner's images through them on every call (133 lookups a second instead of 3,900).
 */
export function rowByKey(table: string, column: string, key: string): RawBuilder<unknown> {
  return sql`lateral (select * from ${sql.table(table)} where ${sql.ref(column)} = ${sql.ref(key)} offset 0)`;
}

/**
 * The rows of `table` whose `column` is one of the text values of a JSON array handed in as one parameter, as a FROM
 * item (PostgreSQL): a grouped statement's list of keys keeps one statement shape whatever its length, and each key's
 * row is found by `rowByKey`. A key listed twice yields its row twice.
 */
export function rowsByKeys<R>(table: string, column: string, json: string): RawBuilder<R> {
  return sql<R>`(select r.* from json_array_elements_text(${json}::json) as k(v) cross join ${rowByKey(table, column, 'k.v')} as r)`;
}
