import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Encrypts AccessKey secrets at rest with AES-256-GCM. Signatures are HMACs, so the service
 * needs the plain secret back: a hash would not do.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

const OPENED_MAX = 10_000;

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the master key must be 32 bytes (64 hex characters)');
  // Every signed request opens its key's secret. A sealed value has its own random IV, so it always opens to the
  // same secret: remembering the recent ones is exact, and saves a decryption per request.
  const opened = new Map<string, string>();
  return {
    seal(plain) {
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), body.toString('base64')].join('.');
    },
    open(sealed) {
      const known = opened.get(sealed);
      if (known !== undefined) return known;
      const plain = decrypt(sealed);
      if (opened.size >= OPENED_MAX) opened.clear();
      opened.set(sealed, plain);
      return plain;
    },
  };

  function decrypt(sealed: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1') throw new Error('unknown secret envelope');
    const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(body, 'base64')), d.final()]).toString('utf8');
  }
}

/** The configured key, or the one in `<dataDir>/master.key` (created with mode 0600 on first use). */
export function loadMasterKey(dataDir: string, configured: string): Buffer {
  if (configured) return Buffer.from(configured, 'hex');
  const file = path.join(dataDir, 'master.key');
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
}
