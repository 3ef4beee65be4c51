/**
 * The fetch for web-download and for http(s) image locations, guarded against SSRF: only http(s); every address a host name resolves to must be
 * public (no loopback, private, link-local, CGNAT, multicast or unspecified address, IPv4-mapped ones
 * included) unless the operator's allow-list (IMAGEHOUSE_IMPORT_ALLOWED_HOSTS) names the host or host:port;
 * the connection goes to the address that was checked (no second lookup an attacker's DNS could answer
 * differently); each redirect is checked the same way, at most MAX_REDIRECTS of them.
 */
import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { addAbortSignal, pipeline, Transform, type Readable } from 'node:stream';
import { apiError } from '../../domain/errors.ts';

const MAX_REDIRECTS = 5;

const blocked = new net.BlockList();
for (const [a, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(a, bits, 'ipv4');
for (const [a, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) blocked.addSubnet(a, bits, 'ipv6');

/** Whether an IP literal is one web-download refuses unless allow-listed. */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isInternalAddress(mapped[1]);
  return blocked.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}

/** What the fetch is for, named in its errors: `web-download` or `location`. */
type Purpose = 'web-download' | 'location';

const refused = (why: string, purpose: Purpose = 'web-download') => apiError('OpenStack.BadRequest', `URI for ${purpose} does not pass filtering: ${why}`);

function allowListed(url: URL, address: string, allowed: readonly string[]): boolean {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return [host, address].some((h) => allowed.includes(h) || allowed.includes(`${h.includes(':') ? `[${h}]` : h}:${port}`));
}

/** The address to connect to for `url`, after the checks above. */
async function checkedAddress(url: URL, allowed: readonly string[], purpose: Purpose): Promise<{ address: string; family: number }> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused(`scheme ${url.protocol} is not http or https`, purpose);
  if (url.username || url.password) throw refused('credentials in the URI are not allowed', purpose);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  try {
    addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await dns.lookup(host, { all: true });
  } catch {
    throw apiError('OpenStack.BadRequest', `${purpose}: host ${host} cannot be resolved`);
  }
  if (addresses.length === 0) throw apiError('OpenStack.BadRequest', `${purpose}: host ${host} cannot be resolved`);
  for (const a of addresses) if (isInternalAddress(a.address) && !allowListed(url, a.address, allowed)) throw refused(`${host} is an internal address`, purpose);
  return addresses[0];
}

function request(url: URL, method: 'GET' | 'HEAD', pinned: { address: string; family: number }, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method,
      signal,
      headers: { 'user-agent': 'imagehouse-web-download' },
      lookup: (_h: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => (opts.all ? cb(null, [pinned]) : cb(null, pinned.address, pinned.family)),
    } as http.RequestOptions, resolve);
    req.on('error', reject);
    req.end();
  });
}

export interface FetchOptions {
  allowedHosts: readonly string[];
  /** Ends the request (a job's cancel or a timeout); a GET streamed to a client has none, the client ends it. */
  signal?: AbortSignal;
  method?: 'GET' | 'HEAD';
  purpose?: Purpose;
}

/** Requests `uri` through the checks above, following checked redirects; resolves with the 200 response. */
export async function guardedFetch(uri: string, opts: FetchOptions): Promise<http.IncomingMessage> {
  const purpose = opts.purpose ?? 'web-download';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw refused('not a URI', purpose);
  }
  for (let hop = 0; ; hop++) {
    const res = await request(url, opts.method ?? 'GET', await checkedAddress(url, opts.allowedHosts, purpose), opts.signal).catch((e: Error) => {
      throw apiError('OpenStack.BadRequest', `${purpose}: ${url.host}: ${e.message}`);
    });
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw apiError('OpenStack.BadRequest', `${purpose}: too many redirects`);
      url = new URL(location, url);
      continue;
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw apiError('OpenStack.BadRequest', `${purpose}: ${url.href} answered ${res.statusCode}`);
    }
    return res;
  }
}

/** The body of `uri`, failing with an ApiError once it passes `maxBytes`. Errors are ApiErrors with the reason. */
export async function webDownloadBody(uri: string, opts: { allowedHosts: readonly string[]; maxBytes: number; signal: AbortSignal }): Promise<Readable> {
  const res = await guardedFetch(uri, opts);
  let size = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(size > opts.maxBytes ? apiError('OpenStack.BadRequest', `web-download: more than ${opts.maxBytes} bytes`) : null, chunk);
    },
  });
  return addAbortSignal(opts.signal, pipeline(res, limited, () => {}));
}
