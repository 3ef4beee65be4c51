/** Glance calls as a Keystone token holder, and the plain HTTP file server that web-download and location tests read from. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Any = any;

export interface GlanceAnswer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  /** The body parsed when it is JSON, else its text (undefined when empty). */
  json: Any;
}

/** One call to `ENDPOINT/image{path}`: a Buffer body goes as it is, anything else as JSON; `type` names its media type. */
export async function glanceCall(endpoint: string, token: string, method: string, path: string, body?: unknown, type = 'application/json', headers: Record<string, string> = {}): Promise<GlanceAnswer> {
  const res = await fetch(`${endpoint}/image${path}`, {
    method, headers: { 'x-auth-token': token, ...(body !== undefined ? { 'content-type': type } : {}), ...headers },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: Any;
  if (bytes.length && !res.headers.get('content-type')?.startsWith('application/octet-stream')) {
    try { json = JSON.parse(bytes.toString()); } catch { json = bytes.toString(); }
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

export interface FileServer {
  port: number;
  /** Stops listening; resolves once open connections have ended. */
  close(): Promise<void>;
}

/** A plain HTTP server on 127.0.0.1 with the given handler. */
export async function startFileServer(handler: http.RequestListener): Promise<FileServer> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
