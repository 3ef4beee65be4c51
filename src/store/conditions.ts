import { sql, type SqlBool } from 'kysely';

/** A condition no row passes (portable: SQLite cannot bind a boolean). */
export const noRows = sql<SqlBool>`1 = 0`;

/**
 * The text values of a JSON array handed in as one parameter, as a subquery for `IN` (PostgreSQL): a grouped
 * statement's list of keys keeps one statement shape whatever its length.
 */
export const jsonTexts = (json: string) => sql`(select json_array_elements_text(${json}::json))`;
