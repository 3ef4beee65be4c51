import type { Kysely } from 'kysely';
import type { AccountRow, Database } from '../store/schema.ts';
import { prepared } from '../store/prepared.ts';
import { newAccessKeyId, newAccessKeySecret, newAccountId } from '../domain/ids.ts';
import type { Services } from './context.ts';
import type { AccessKey } from './access-key-cache.ts';

export interface NewAccount {
  accountId: string;
  name: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export const SYSTEM_ACCOUNT_NAME = 'system';
const ACCOUNT_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

export class AccountError extends Error {}

/** Creates an account with one AccessKey pair. The secret is returned once and stored only encrypted. */
export async function createAccount(
  services: Pick<Services, 'db' | 'secrets' | 'clock'>,
  input: { name: string; kind?: AccountRow['kind'] },
): Promise<NewAccount> {
  const { db, secrets } = services;
  if (!ACCOUNT_NAME.test(input.name)) {
    throw new AccountError(`invalid account name "${input.name}": 1-64 characters, a letter first, then letters, digits, . _ -`);
  }
  const existing = await db.selectFrom('accounts').select('id').where('name', '=', input.name).executeTakeFirst();
  if (existing) throw new AccountError(`an account named "${input.name}" already exists (${existing.id})`);
  const now = services.clock.now();
  const account: NewAccount = {
    accountId: newAccountId(),
    name: input.name,
    accessKeyId: newAccessKeyId(),
    accessKeySecret: newAccessKeySecret(),
  };
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('accounts').values({ id: account.accountId, name: input.name, kind: input.kind ?? 'user', created_at: now }).execute();
    await trx.insertInto('access_keys')
      .values({ id: account.accessKeyId, account_id: account.accountId, secret_enc: secrets.seal(account.accessKeySecret), created_at: now })
      .execute();
  });
  return account;
}

export interface AccountSummary {
  accountId: string;
  name: string;
  kind: string;
  createdAt: string;
  accessKeyIds: string[];
}

export async function listAccounts(services: Pick<Services, 'db'>): Promise<AccountSummary[]> {
  const { db } = services;
  const accounts = await db.selectFrom('accounts').selectAll().orderBy('created_at').orderBy('id').execute();
  const keys = await db.selectFrom('access_keys').select(['id', 'account_id']).execute();
  return accounts.map((a) => ({
    accountId: a.id,
    name: a.name,
    kind: a.kind,
    createdAt: new Date(a.created_at).toISOString(),
    accessKeyIds: keys.filter((k) => k.account_id === a.id).map((k) => k.id),
  }));
}

/** The account and plain secret behind an AccessKeyId, for signature verification. */
/** Every signed request looks its key up: built once (store/prepared.ts). */
const accessKeyRow = prepared((db: Kysely<Database>, id: string) => db.selectFrom('access_keys').select(['account_id', 'secret_enc']).where('id', '=', id));

export async function findAccessKey(services: Pick<Services, 'db' | 'secrets' | 'accessKeys'>, accessKeyId: string): Promise<AccessKey | undefined> {
  return services.accessKeys.get(accessKeyId, async () => {
    const [row] = await accessKeyRow(services.db, accessKeyId);
    return row && { accountId: row.account_id, secret: services.secrets.open(row.secret_enc) };
  });
}

/** The system account that owns public images; created on first start. */
export async function ensureSystemAccount(services: Pick<Services, 'db' | 'clock'>): Promise<string> {
  const { db } = services;
  const row = await db.selectFrom('accounts').select('id').where('name', '=', SYSTEM_ACCOUNT_NAME).executeTakeFirst();
  if (row) return row.id;
  const id = newAccountId();
  await db.insertInto('accounts').values({ id, name: SYSTEM_ACCOUNT_NAME, kind: 'system', created_at: services.clock.now() })
    .onConflict((oc) => oc.column('name').doNothing()).execute();
  return (await db.selectFrom('accounts').select('id').where('name', '=', SYSTEM_ACCOUNT_NAME).executeTakeFirstOrThrow()).id;
}

export async function accountExists(services: Pick<Services, 'db'>, id: string): Promise<boolean> {
  const { db } = services;
  return !!(await db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst());
}
