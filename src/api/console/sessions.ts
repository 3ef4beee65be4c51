/** The console's session cookie. Sessions themselves live in the metadata store (`store/sessions.ts`). */
export const SESSION_COOKIE = 'ih_console';

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

