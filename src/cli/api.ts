/**
 * The CLI's API client: every user-facing command calls the service like any other client, signing
 * requests with ACS3-HMAC-SHA256 exactly as the official SDK does.
 */
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { sha256Hex, v3CanonicalRequest, v3Signature, v3StringToSign, V3_ALGORITHM } from '../api/ecs/signature.ts';
import { UNSIGNED_PAYLOAD } from '../api/ecs/auth.ts';
import { selectedProfile } from './profile.ts';

export interface ClientConfig {
  endpoint: string;
  region: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export class ApiCallError extends Error {
  constructor(readonly code: string, message: string, readonly status: number, readonly requestId: string) {
    super(message);
  }
}

export class MissingCredentialsError extends Error {}

/** Flags, then IMAGEHOUSE_* environment variables, then the selected profile, then defaults. */
export function clientConfig(flags: Record<string, string | true>, env: Record<string, string | undefined>): ClientConfig {
  const str = (v: string | true | undefined) => (typeof v === 'string' ? v : undefined);
  const { name, profile = {} } = selectedProfile(flags, env);
  const endpoint = str(flags.endpoint) ?? env.IMAGEHOUSE_ENDPOINT ?? profile.endpoint ?? `http://127.0.0.1:${env.IMAGEHOUSE_PORT ?? 8080}`;
  const accessKeyId = str(flags['access-key-id']) ?? env.IMAGEHOUSE_ACCESS_KEY_ID ?? profile.accessKeyId ?? '';
  const accessKeySecret = str(flags['access-key-secret']) ?? env.IMAGEHOUSE_ACCESS_KEY_SECRET ?? profile.accessKeySecret ?? '';
  if (!accessKeyId || !accessKeySecret) {
    throw new MissingCredentialsError(`no credentials in profile "${name}": run \`imagehouse configure\` or set IMAGEHOUSE_ACCESS_KEY_ID and IMAGEHOUSE_ACCESS_KEY_SECRET (see \`imagehouse account create\`)`);
  }
  const region = str(flags.region) ?? env.IMAGEHOUSE_REGION ?? profile.region ?? 'cn-hangzhou';
  return { endpoint: endpoint.replace(/\/+$/, ''), region, accessKeyId, accessKeySecret };
}

function isoNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Headers that sign a request (V3). `payloadHash` is the body's sha256 or UNSIGNED-PAYLOAD for streams. */
export function signHeaders(cfg: ClientConfig, method: string, path: string, query: [string, string][], extra: Record<string, string>, payloadHash: string): Record<string, string> {
  const host = new URL(cfg.endpoint).host;
  const headers: Record<string, string> = {
    host,
    'x-acs-date': isoNow(),
    'x-acs-signature-nonce': crypto.randomBytes(16).toString('hex'),
    'x-acs-content-sha256': payloadHash,
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const signed = Object.keys(headers).filter((h) => h === 'host' || h === 'content-type' || h.startsWith('x-acs-')).sort();
  const creq = v3CanonicalRequest({ method, path, query, headers, signedHeaders: signed, payloadHash });
  const signature = v3Signature(cfg.accessKeySecret, v3StringToSign(creq));
  const { host: _host, ...rest } = headers;
  return { ...rest, authorization: `${V3_ALGORITHM} Credential=${cfg.accessKeyId},SignedHeaders=${signed.join(';')},Signature=${signature}` };
}

/** Calls an ECS action (POST with the parameters in the query, as the official SDK sends them). */
export async function callAction<T = any>(cfg: ClientConfig, action: string, params: Record<string, string | number | boolean | undefined>): Promise<T> {
  const query: [string, string][] = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]);
  const headers = signHeaders(cfg, 'POST', '/', query, { 'x-acs-action': action, 'x-acs-version': '2014-05-26', accept: 'application/json' }, sha256Hex(''));
  const url = `${cfg.endpoint}/?${new URLSearchParams(query)}`;
  let res: { status: number; text: string };
  try {
    res = await post(url, headers);
  } catch (e) {
    throw new ApiCallError('ServiceUnavailable', `cannot reach ${cfg.endpoint}: ${(e as Error).message}`, 0, '');
  }
  const body = JSON.parse(res.text) as any;
  if (res.status >= 400 || body.Code) throw new ApiCallError(body.Code, body.Message, res.status, body.RequestId);
  return body as T;
}

/**
 * An empty POST through node:http. Not fetch: its first use in a process compiles undici's WebAssembly HTTP parser,
 * about 300 ms, which most CLI commands (one API call each) would pay every time (bench/cli.ts).
 */
function post(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'POST', headers: { ...headers, 'content-length': '0' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A signed request to a data endpoint; the body (if any) streams unsigned. */
export async function dataRequest(
  cfg: ClientConfig,
  method: string,
  path: string,
  query: Record<string, string>,
  opts: { body?: AsyncIterable<Uint8Array> | Uint8Array; headers?: Record<string, string> } = {},
): Promise<Response> {
  const pairs = Object.entries(query);
  const headers = signHeaders(cfg, method, path, pairs, opts.headers ?? {}, UNSIGNED_PAYLOAD);
  const qs = pairs.length ? `?${new URLSearchParams(pairs)}` : '';
  const url = `${cfg.endpoint}${path}${qs}`;
  const res = await request(url, method, headers, opts.body);
  if (res.status >= 400) {
    const text = await res.text();
    let body: any = {};
    try { body = JSON.parse(text); } catch { body = { Code: 'HTTP' + res.status, Message: text } }
    throw new ApiCallError(body.Code, body.Message, res.status, body.RequestId ?? '');
  }
  return res;
}

/**
 * A request through node:http, its body streamed, answered as a fetch Response. fetch streams a request body
 * through a web ReadableStream, which moved about 100 MB/s here, and its first call in a process compiles undici's
 * WebAssembly parser (about 300 ms); node:http writes the pieces to the socket as they come.
 */
function request(url: string, method: string, headers: Record<string, string>, body: AsyncIterable<Uint8Array> | Uint8Array | undefined): Promise<Response> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method, headers }, (res) => {
      const responseHeaders = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
      const status = res.statusCode ?? 0;
      const nullBody = status === 204 || status === 205 || status === 304; // a Response with these refuses a body
      if (nullBody) res.resume();
      resolve(new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: responseHeaders }));
    });
    req.on('error', reject);
    sendBody(req, body).catch((e) => req.destroy(e));
  });
}

/**
 * Writes each piece and waits until the socket has taken it before asking for the next, so a sender may reuse a
 * piece's memory once the next is asked for (reading into fresh memory costs page faults on every piece).
 */
async function sendBody(req: http.ClientRequest, body: AsyncIterable<Uint8Array> | Uint8Array | undefined): Promise<void> {
  for await (const piece of body instanceof Uint8Array ? [body] : body ?? []) await new Promise<void>((resolve, reject) => req.write(piece, (e) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve) => req.end(resolve));
}
