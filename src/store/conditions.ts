import { sql, type SqlBool } from 'kysely';

/** A condition no row passes (portable: SQLite cannot bind a boolean). */
export const noRows = sql<SqlBool>`1 = 0`;
