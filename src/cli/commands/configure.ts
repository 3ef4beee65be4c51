/** `imagehouse configure` writes a profile (endpoint, region, AccessKey pair) into the 0600 config file. */
import readline from 'node:readline/promises';
import { EXIT, type CliIo, type Command } from '../command.ts';
import { configPath, readProfiles, saveProfile, type Profile } from '../profile.ts';
import { table } from '../format.ts';

type Flags = Record<string, string | true>;

const FIELDS: [keyof Profile, string, string][] = [
  ['endpoint', 'endpoint', 'Endpoint'],
  ['region', 'region', 'Default region'],
  ['accessKeyId', 'access-key-id', 'AccessKeyId'],
  ['accessKeySecret', 'access-key-secret', 'AccessKeySecret'],
];

function mask(secret: string | undefined): string {
  return secret ? `****${secret.slice(-4)}` : '';
}

async function prompt(io: CliIo, existing: Profile, flags: Flags): Promise<Profile> {
  const out: Profile = {};
  const interactive = io.isTTY && process.stdin.isTTY && !flags['non-interactive'];
  const rl = interactive ? readline.createInterface({ input: process.stdin, output: process.stderr }) : undefined;
  try {
    for (const [key, flag, label] of FIELDS) {
      const given = flags[flag];
      if (typeof given === 'string') out[key] = given;
      else if (rl) {
        const shown = key === 'accessKeySecret' ? mask(existing[key]) : existing[key] ?? '';
        const answer = (await rl.question(`${label} [${shown}]: `)).trim();
        if (answer) out[key] = answer;
      }
    }
  } finally {
    rl?.close();
  }
  return out;
}

export const configure: Command = {
  path: ['configure'],
  summary: 'Save endpoint, region and AccessKey pair as a profile (~/.imagehouse/config.json, mode 0600)',
  usage: [
    'imagehouse configure [--profile NAME] [--endpoint URL] [--region R] [--access-key-id ID] [--access-key-secret S] [--non-interactive]',
    '',
    'Asks for whatever is not given as a flag when run on a terminal; keeps existing values on an empty answer.',
    'The profile becomes the current one. Commands pick a profile with --profile NAME or $IMAGEHOUSE_PROFILE;',
    'IMAGEHOUSE_ENDPOINT, IMAGEHOUSE_REGION, IMAGEHOUSE_ACCESS_KEY_ID and IMAGEHOUSE_ACCESS_KEY_SECRET override',
    'the file, and flags override both. The file is $IMAGEHOUSE_CONFIG if set.',
    '',
    'Examples:',
    '  imagehouse configure',
    '  imagehouse configure --profile prod --endpoint https://images.example.com --region cn-hangzhou \\',
    '      --access-key-id LTAI... --access-key-secret ...',
  ].join('\n'),
  async run({ flags }, io) {
    const name = typeof flags.profile === 'string' ? flags.profile : readProfiles(io.env).current;
    const existing = readProfiles(io.env).profiles[name] ?? {};
    const values = await prompt(io, existing, flags);
    const file = saveProfile(io.env, name, values);
    const merged = { ...existing, ...values };
    if (flags.json) io.out(JSON.stringify({ profile: name, file, endpoint: merged.endpoint ?? null, region: merged.region ?? null, accessKeyId: merged.accessKeyId ?? null }));
    else io.out(`Saved profile "${name}" to ${file}`);
    return EXIT.ok;
  },
};

export const configureList: Command = {
  path: ['configure', 'list'],
  summary: 'List the saved profiles (secrets masked)',
  usage: 'imagehouse configure list [--json]\n\nExample:\n  imagehouse configure list',
  async run({ flags }, io) {
    const file = readProfiles(io.env);
    const rows = Object.entries(file.profiles).map(([name, p]) => ({
      name, current: name === file.current, endpoint: p.endpoint ?? '', region: p.region ?? '', accessKeyId: p.accessKeyId ?? '', accessKeySecret: mask(p.accessKeySecret),
    }));
    if (flags.json) io.out(JSON.stringify(rows));
    else {
      io.out(table(['', 'PROFILE', 'ENDPOINT', 'REGION', 'ACCESS KEY ID', 'SECRET'], rows.map((r) => [r.current ? '*' : '', r.name, r.endpoint, r.region, r.accessKeyId, r.accessKeySecret])));
      io.out(`(${configPath(io.env)})`);
    }
    return EXIT.ok;
  },
};
