/**
 * Console sessions: an AccessKey pair is checked once and exchanged for a random session ID (an HttpOnly
 * cookie) and a CSRF token the page keeps in memory. Sessions live in this process's memory: a restart signs
 * everyone out, which is acceptable for a console (the secret is never kept anywhere but the key table).
 */
import crypto from 'node:crypto';

export interface Session {
  id: string;
  accountId: string;
  accessKeyId: string;
  csrfToken: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'ih_console';
const TTL_MS = 8 * 3600_000;

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number) {}

  create(accountId: string, accessKeyId: string): Session {
    this.sweep();
    const s: Session = {
      id: crypto.randomBytes(32).toString('base64url'),
      accountId,
      accessKeyId,
      csrfToken: crypto.randomBytes(24).toString('base64url'),
      expiresAt: this.now() + TTL_MS,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | undefined {
    const s = id ? this.sessions.get(id) : undefined;
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(s.id);
      return undefined;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // a malformed cookie is no session
      }
    }
  }
  return undefined;
}

