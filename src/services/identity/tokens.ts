/**
 * Keystone v3 identity over the accounts: each account is one user and one project (both with the account's
 * ID and name) in domain `Default`. Tokens are random, handed out once and stored only as SHA-256, with an
 * expiry; revoking marks the row, so both survive a restart.
 */
import crypto from 'node:crypto';
import { sql, type AliasedRawBuilder, type Kysely } from 'kysely';
import type { AccountRow, Database, OsTokenRow } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';
import { apiError } from '../../domain/errors.ts';
import type { Services, TokenWithAccount } from '../context.ts';
import { grouped } from '../../store/group.ts';
import { rowsByKeys } from '../../store/conditions.ts';
import type { Dialect } from '../../store/dialect.ts';
import { findAccessKey } from '../accounts.ts';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';
import { sameSecret } from '../../domain/secrets.ts';

export const TOKEN_TTL_MS = 3600_000;
export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;

export type Identity = Pick<AccountRow, 'id' | 'name' | 'kind'> & { isAdmin: boolean };

export interface IssuedToken {
  token: string;
  row: OsTokenRow;
  identity: Identity;
}

export type AuthRequest =
  | { method: 'password'; user: { id?: string; name?: string; domain?: { id?: string; name?: string } }; password: string; scope?: ProjectScope }
  | { method: 'application_credential'; id: string; secret: string }
  | { method: 'token'; token: string; scope?: ProjectScope };

export interface ProjectScope {
  id?: string;
  name?: string;
  domain?: { id?: string; name?: string };
}

const unauthorized = () => apiError('OpenStack.Unauthorized');

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

function inDefaultDomain(d: { id?: string; name?: string } | undefined): boolean {
  if (!d) return true;
  return (d.id === undefined || d.id === DEFAULT_DOMAIN.id) && (d.name === undefined || d.name === DEFAULT_DOMAIN.name);
}

async function identityOf(services: Pick<Services, 'db'>, where: { id?: string; name?: string }): Promise<Identity | undefined> {
  let q = services.db.selectFrom('accounts').select(['id', 'name', 'kind', 'is_admin']).where('kind', '!=', 'system');
  if (where.id !== undefined) q = q.where('id', '=', where.id);
  else if (where.name !== undefined) q = q.where('name', '=', where.name);
  else return undefined;
  const row = await q.executeTakeFirst();
  return row && { id: row.id, name: row.name, kind: row.kind, isAdmin: row.is_admin === 1 };
}

/** The project (= account) by ID or name, as `/v3/projects/{id-or-name}` looks it up. */
export function findProject(services: Pick<Services, 'db'>, idOrName: string): Promise<Identity | undefined> {
  return /^\d{1,20}$/.test(idOrName) ? identityOf(services, { id: idOrName }).then((p) => p ?? identityOf(services, { name: idOrName })) : identityOf(services, { name: idOrName });
}

function checkScope(identity: Identity, scope: ProjectScope | undefined): void {
  if (!scope) return;
  if (!inDefaultDomain(scope.domain)) throw unauthorized();
  if (scope.id !== undefined && scope.id !== identity.id) throw unauthorized();
  if (scope.id === undefined && scope.name !== undefined && scope.name !== identity.name) throw unauthorized();
}

async function issue(services: Pick<Services, 'db' | 'clock'>, identity: Identity, methods: string[], accessKeyId = '', expiresAt?: number): Promise<IssuedToken> {
  const now = services.clock.now();
  const token = crypto.randomBytes(32).toString('base64url');
  const row: OsTokenRow = {
    token_hash: hashToken(token), account_id: identity.id, methods: methods.join(','), audit_id: crypto.randomBytes(16).toString('base64url').slice(0, 22),
    access_key_id: accessKeyId, issued_at: now, expires_at: Math.min(expiresAt ?? Infinity, now + TOKEN_TTL_MS), revoked: 0,
  };
  await services.db.insertInto('os_tokens').values(row).execute();
  return { token, row, identity };
}

/** POST /v3/auth/tokens: checks the credentials and the scope, and issues a project-scoped token. */
export async function authenticate(services: Pick<Services, 'db' | 'clock' | 'secrets' | 'accessKeys' | 'tokens'>, req: AuthRequest): Promise<IssuedToken> {
  if (req.method === 'password') {
    if (!inDefaultDomain(req.user.domain) && req.user.id === undefined) throw unauthorized();
    const identity = await identityOf(services, req.user.id !== undefined ? { id: req.user.id } : { name: req.user.name });
    const row = identity && (await services.db.selectFrom('accounts').select('password_hash').where('id', '=', identity.id).executeTakeFirst());
    const ok = await verifyPassword(req.password, row?.password_hash ?? '');
    if (!identity || !ok) throw unauthorized();
    checkScope(identity, req.scope);
    return issue(services, identity, ['password']);
  }
  if (req.method === 'application_credential') {
    const key = await findAccessKey(services, req.id);
    if (!key || !sameSecret(key.secret, req.secret)) throw unauthorized();
    const identity = await identityOf(services, { id: key.accountId });
    if (!identity) throw unauthorized();
    return issue(services, identity, ['application_credential'], req.id);
  }
  const prior = await validateToken(services, req.token);
  if (!prior) throw unauthorized();
  checkScope(prior.identity, req.scope);
  return issue(services, prior.identity, [...new Set([...prior.row.methods.split(','), 'token'])], prior.row.access_key_id, prior.row.expires_at);
}

/** The live token's row and identity; undefined when unknown, expired or revoked. */
export async function validateToken(services: Pick<Services, 'tokens' | 'clock'>, token: string | undefined): Promise<{ row: OsTokenRow; identity: Identity } | undefined> {
  if (!token) return undefined;
  const found = await services.tokens(hashToken(token));
  if (!found || found.revoked || Number(found.expires_at) <= services.clock.now()) return undefined;
  const { account_name, account_kind, account_is_admin, ...row } = found;
  const identity: Identity = { id: row.account_id, name: account_name, kind: account_kind, isAdmin: account_is_admin === 1 };
  return { row: { ...row, issued_at: Number(row.issued_at), expires_at: Number(row.expires_at) }, identity };
}

/** Every Keystone-authenticated request checks its token: the token and its (non-system) account in one statement, built once. */
const TOKEN_COLUMNS = ['t.token_hash', 't.account_id', 't.methods', 't.audit_id', 't.access_key_id', 't.issued_at', 't.expires_at', 't.revoked'] as const satisfies readonly `t.${keyof OsTokenRow}`[];
const ALL_TOKENS = sql<OsTokenRow>`${sql.table('os_tokens')}`.as('t');
const withAccount = (db: Kysely<Database>, tokens: AliasedRawBuilder<OsTokenRow, 't'> = ALL_TOKENS) => db.selectFrom(tokens).innerJoin('accounts as a', 'a.id', 't.account_id').select(TOKEN_COLUMNS)
  .select(['a.name as account_name', 'a.kind as account_kind', 'a.is_admin as account_is_admin']).where('a.kind', '!=', 'system');
const tokenWithAccount = prepared((db: Kysely<Database>, tokenHash: string) => withAccount(db).where('t.token_hash', '=', tokenHash));
/** The tokens named by a JSON array of hashes (PostgreSQL). */
const tokensWithAccounts = prepared((db: Kysely<Database>, hashes: string) => withAccount(db, rowsByKeys<OsTokenRow>('os_tokens', 'token_hash', hashes).as('t')));

/**
 * The token check behind `Services.tokens`. On PostgreSQL the checks of concurrent requests run as one statement
 * (store/group.ts, as the lookups by ID do); a token revoked before a check was asked is revoked in its answer.
 */
export function tokenLookups(db: Kysely<Database>, dialect: Dialect): (tokenHash: string) => Promise<TokenWithAccount | undefined> {
  if (dialect === 'sqlite') return async (hash) => (await tokenWithAccount(db, hash))[0];
  return grouped(async (hashes: string[]) => {
    const found = new Map((await tokensWithAccounts(db, JSON.stringify([...new Set(hashes)]))).map((row) => [row.token_hash, row]));
    return hashes.map((hash) => found.get(hash));
  });
}

/** DELETE /v3/auth/tokens: false when the token was not live. */
export async function revokeToken(services: Pick<Services, 'db' | 'clock'>, token: string): Promise<boolean> {
  const res = await services.db.updateTable('os_tokens').set({ revoked: 1 })
    .where('token_hash', '=', hashToken(token)).where('revoked', '=', 0).where('expires_at', '>', services.clock.now()).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Drops tokens that expired more than a day ago. */
export async function purgeExpiredTokens(services: Pick<Services, 'db' | 'clock'>): Promise<void> {
  await services.db.deleteFrom('os_tokens').where('expires_at', '<', services.clock.now() - 86400_000).execute();
}

export class PasswordError extends Error {}

/** `account create --password-stdin` / `account set-password`: stores the scrypt hash only. */
export async function setPassword(services: Pick<Services, 'db'>, account: string, password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new PasswordError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  const row = await services.db.selectFrom('accounts').select('id').where((eb) => eb.or([eb('id', '=', account), eb('name', '=', account)])).executeTakeFirst();
  if (!row) throw new PasswordError(`no account "${account}"`);
  await services.db.updateTable('accounts').set({ password_hash: await hashPassword(password) }).where('id', '=', row.id).execute();
  return row.id;
}

export async function setAdmin(services: Pick<Services, 'db'>, accountId: string, admin: boolean): Promise<void> {
  await services.db.updateTable('accounts').set({ is_admin: admin ? 1 : 0 }).where('id', '=', accountId).execute();
}

/** Every user account, for `/v3/projects` and `/v3/users`. */
export async function listIdentities(services: Pick<Services, 'db'>, name?: string): Promise<Identity[]> {
  let q = services.db.selectFrom('accounts').select(['id', 'name', 'kind', 'is_admin']).where('kind', '!=', 'system');
  if (name !== undefined) q = q.where('name', '=', name);
  const rows = await q.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind, isAdmin: r.is_admin === 1 }));
}
