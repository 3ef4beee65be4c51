import type { Command } from '../command.ts';
import { EXIT } from '../command.ts';
import { loadConfig } from '../../config.ts';
import { openAdmin } from '../../app.ts';
import { AccountError, createAccount, listAccounts } from '../../services/accounts.ts';
import { table } from '../format.ts';

/** Administrative: works on the data directory / database directly, whether or not the server runs. */
export const accountCreate: Command = {
  path: ['account', 'create'],
  summary: 'Create an account and print its ID and AccessKey pair (the secret is shown once)',
  usage: 'imagehouse account create --name NAME [--json] [--data DIR]\n\nExample:\n  imagehouse account create --name alice --json',
  async run({ flags }, io) {
    if (typeof flags.name !== 'string') {
      io.err('account create: --name NAME is required');
      return EXIT.usage;
    }
    const config = loadConfig(flags, io.env);
    const admin = await openAdmin(config);
    try {
      const a = await createAccount(admin, { name: flags.name });
      if (flags.json) io.out(JSON.stringify({ accountId: a.accountId, accessKeyId: a.accessKeyId, accessKeySecret: a.accessKeySecret }));
      else {
        io.out(`Account ID:        ${a.accountId}`);
        io.out(`AccessKeyId:       ${a.accessKeyId}`);
        io.out(`AccessKeySecret:   ${a.accessKeySecret}`);
        io.out('Keep the secret now: it cannot be shown again.');
      }
      return EXIT.ok;
    } catch (e) {
      if (e instanceof AccountError) {
        io.err(`account create: ${e.message}`);
        return EXIT.conflict;
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
