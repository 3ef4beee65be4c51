import type { Command } from '../command.ts';
import { EXIT } from '../command.ts';
import { loadConfig, metadataLocation } from '../../config.ts';
import { adminUseCases, openAdmin } from '../admin.ts';
import { table } from '../format.ts';

/** Administrative: works on the data directory / database directly, whether or not the server runs. */
export const accountCreate: Command = {
  path: ['account', 'create'],
  summary: 'Create an account and print its ID and AccessKey pair (the secret is shown once)',
  usage: [
    'imagehouse account create --name NAME [--password-stdin] [--admin] [--json] [--data DIR]',
    '',
    '  --password-stdin   read a password for OpenStack (Keystone password method) from stdin; stored as a scrypt hash',
    '  --admin            the account gets Keystone\'s admin role (may make Glance images public)',
    '',
    'The account is also a Keystone user and project (both named NAME, with the account ID as their ID).',
    '',
    'Example:\n  imagehouse account create --name alice --json\n  printf %s "$PW" | imagehouse account create --name bob --password-stdin',
  ].join('\n'),
  async run({ flags }, io) {
    if (typeof flags.name !== 'string') {
      io.err('account create: --name NAME is required');
      return EXIT.usage;
    }
    const password = flags['password-stdin'] ? await readStdinLine() : undefined;
    const config = loadConfig(flags, io.env);
    const { AccountError, PasswordError, createAccount, setAdmin, setPassword } = await adminUseCases();
    const admin = await openAdmin(config);
    try {
      const a = await createAccount(admin, { name: flags.name });
      if (password !== undefined) await setPassword(admin, a.accountId, password);
      if (flags.admin) await setAdmin(admin, a.accountId, true);
      const storedIn = metadataLocation(config);
      const sameStore = `a server accepts these keys only with the same ${config.databaseUrl ? 'IMAGEHOUSE_DATABASE_URL' : `data directory (--data ${config.dataDir})`}`;
      if (flags.json) {
        io.out(JSON.stringify({ accountId: a.accountId, projectId: a.accountId, projectName: a.name, accessKeyId: a.accessKeyId, accessKeySecret: a.accessKeySecret, storedIn }));
        io.err(`account create: wrote to ${storedIn}; ${sameStore}`);
      } else {
        io.out(`Account ID:        ${a.accountId}  (OpenStack project and user ID; name ${a.name}, domain Default)`);
        io.out(`AccessKeyId:       ${a.accessKeyId}`);
        io.out(`AccessKeySecret:   ${a.accessKeySecret}`);
        io.out(`Stored in:         ${storedIn}; ${sameStore}`);
        io.out('Keep the secret now: it cannot be shown again.');
      }
      return EXIT.ok;
    } catch (e) {
      if (e instanceof AccountError || e instanceof PasswordError) {
        io.err(`account create: ${e.message}`);
        return e instanceof PasswordError ? EXIT.usage : EXIT.conflict;
      }
      throw e;
    } finally {
      await admin.close();
    }
  },
};

export const accountList: Command = {
  path: ['account', 'list'],
  summary: 'List accounts and their AccessKeyIds',
  usage: 'imagehouse account list [--json] [--data DIR]\n\nExample:\n  imagehouse account list --data /var/lib/imagehouse',
  async run({ flags }, io) {
    const config = loadConfig(flags, io.env);
    const { listAccounts } = await adminUseCases();
    const admin = await openAdmin(config);
    try {
      const accounts = await listAccounts(admin);
      if (flags.json) io.out(JSON.stringify(accounts));
      else io.out(table(['ACCOUNT ID', 'NAME', 'KIND', 'ACCESS KEY IDS', 'CREATED'], accounts.map((a) => [a.accountId, a.name, a.kind, a.accessKeyIds.join(','), a.createdAt])));
      return EXIT.ok;
    } finally {
      await admin.close();
    }
  },
};

/** The first line of stdin (a password piped in), without its line ending. */
async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/, 1)[0];
}

export const accountSetPassword: Command = {
  path: ['account', 'set-password'],
  summary: 'Set the OpenStack (Keystone) password of an account, read from stdin',
  usage: 'imagehouse account set-password --name NAME|ID [--admin true|false] [--data DIR]  < password\n\nExample:\n  printf %s "$PW" | imagehouse account set-password --name alice',
  async run({ flags }, io) {
    if (typeof flags.name !== 'string') {
      io.err('account set-password: --name NAME is required');
      return EXIT.usage;
    }
    const password = await readStdinLine();
    const config = loadConfig(flags, io.env);
    const { PasswordError, setAdmin, setPassword } = await adminUseCases();
    const admin = await openAdmin(config);
    try {
      const id = await setPassword(admin, flags.name, password);
      if (flags.admin !== undefined) await setAdmin(admin, id, flags.admin !== 'false');
      io.out(`Password set for account ${id}.`);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof PasswordError) {
        io.err(`account set-password: ${e.message}`);
        return EXIT.usage;
      }
      throw e;
    } finally {
      await admin.close();
    }
  },
};
