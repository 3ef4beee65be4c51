/**
 * Console sessions in the metadata store: an AccessKey pair is checked once and exchanged for a random session
 * ID (an HttpOnly cookie) and a CSRF token the page keeps in memory. Every node sharing the database knows every
 * session, so a load balancer may send each request anywhere. Rows are keyed by a hash of the ID: reading the
 * table never yields a cookie that signs in.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Clock } from '../domain/clock.ts';

export interface Session {
  id: string;
  accountId: string;
  accessKeyId: string;
  csrfToken: string;
  expiresAt: number;
}

export interface SessionStore {
  create(accountId: string, accessKeyId: string): Promise<Session>;
  /** The live session with this ID, or undefined (unknown, expired or signed out). */
  get(id: string | undefined): Promise<Session | undefined>;
  delete(id: string): Promise<void>;
}

export const SESSION_TTL_MS = 8 * 3600_000;
/** Expired rows are deleted every this many sign-ins. */
const CLEANUP_EVERY = 100;

const hashOf = (id: string) => crypto.createHash('sha256').update(id).digest('hex');

export function kyselySessionStore(db: Kysely<Database>, clock: Clock): SessionStore {
  let sinceCleanup = 0;
  return {
    async create(accountId, accessKeyId) {
      const now = clock.now();
      if (++sinceCleanup >= CLEANUP_EVERY) {
        sinceCleanup = 0;
        await db.deleteFrom('console_sessions').where('expires_at', '<=', now).execute();
      }
      const s: Session = {
        id: crypto.randomBytes(32).toString('base64url'),
        accountId,
        accessKeyId,
        csrfToken: crypto.randomBytes(24).toString('base64url'),
        expiresAt: now + SESSION_TTL_MS,
      };
      await db.insertInto('console_sessions')
        .values({ id_hash: hashOf(s.id), account_id: accountId, access_key_id: accessKeyId, csrf_token: s.csrfToken, expires_at: s.expiresAt })
        .execute();
      return s;
    },
    async get(id) {
      if (!id) return undefined;
      const row = await db.selectFrom('console_sessions').selectAll().where('id_hash', '=', hashOf(id))
        .where('expires_at', '>', clock.now()).executeTakeFirst();
      return row && { id, accountId: row.account_id, accessKeyId: row.access_key_id, csrfToken: row.csrf_token, expiresAt: row.expires_at };
    },
    async delete(id) {
      await db.deleteFrom('console_sessions').where('id_hash', '=', hashOf(id)).execute();
    },
  };
}
