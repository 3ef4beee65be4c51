/**
 * Named profiles, as the aliyun CLI has them: `~/.imagehouse/config.json` (or $IMAGEHOUSE_CONFIG) holds
 * `{ current, profiles: { name: { endpoint, region, accessKeyId, accessKeySecret } } }`, written with mode 0600.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Profile {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
}

export interface ProfileFile {
  current: string;
  profiles: Record<string, Profile>;
}

type Env = Record<string, string | undefined>;

export function configPath(env: Env): string {
  return env.IMAGEHOUSE_CONFIG || path.join(env.HOME || os.homedir(), '.imagehouse', 'config.json');
}

export function readProfiles(env: Env): ProfileFile {
  let text: string;
  try {
    text = fs.readFileSync(configPath(env), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { current: 'default', profiles: {} };
    throw e;
  }
  const parsed = JSON.parse(text) as Partial<ProfileFile>;
  return { current: parsed.current || 'default', profiles: parsed.profiles ?? {} };
}

/** The profile a command uses: --profile, then $IMAGEHOUSE_PROFILE, then the file's `current`. */
export function selectedProfile(flags: Record<string, string | true>, env: Env): { name: string; profile: Profile | undefined } {
  const file = readProfiles(env);
  const name = (typeof flags.profile === 'string' ? flags.profile : undefined) ?? env.IMAGEHOUSE_PROFILE ?? file.current;
  return { name, profile: file.profiles[name] };
}

/** Writes (merges) one profile and makes it current; the file is created 0600 and kept 0600. */
export function saveProfile(env: Env, name: string, profile: Profile, makeCurrent = true): string {
  const file = readProfiles(env);
  file.profiles[name] = { ...file.profiles[name], ...Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined)) };
  if (makeCurrent || !file.profiles[file.current]) file.current = name;
  const target = configPath(env);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, target);
  return target;
}
