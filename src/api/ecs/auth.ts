/**
 * Authenticates an ECS RPC request: signature V3 (`Authorization: ACS3-HMAC-SHA256 …`) or V1 (`Signature`
 * parameter), clock skew, and nonce replay. Returns the caller's account ID or throws the Alibaba error; `verify`
 * returns it once the signature holds, with the nonce's check under way.
 */
import type { FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../../services/context.ts';
import { findAccessKey } from '../../services/accounts.ts';
import { queryPairs, singleValued } from '../http/query.ts';
import {
  parseV3Authorization, sha256Hex, V3_ALGORITHM, v1Signature, v1StringToSign,
  v3CanonicalRequest, v3Signature, v3StringToSign,
} from './signature.ts';
import { headerValue } from '../http/headers.ts';
import { sameSecret } from '../../domain/secrets.ts';

export interface RpcRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Decoded query pairs, in wire order. */
  query: [string, string][];
  /** Decoded form-body pairs (empty unless an urlencoded body was sent). */
  form: [string, string][];
  rawBody: Buffer;
  /** query ∪ form, the action's parameters. */
  params: Record<string, string>;
}

export interface AuthPorts {
  findAccessKey(accessKeyId: string): Promise<{ accountId: string; secret: string } | undefined>;
  /** Records a nonce until `expiresAt`; false when it was seen before. */
  useNonce(key: string, expiresAt: number): Promise<boolean>;
  now(): number;
  maxSkewMs: number;
}

/** How requests are authenticated, shared by the RPC gateway, the data endpoints and the console. */
export function authPorts(services: Services): AuthPorts {
  return {
    findAccessKey: (id) => findAccessKey(services, id),
    useNonce: (key, expiresAt) => services.nonces.use(key, expiresAt),
    now: () => services.clock.now(),
    maxSkewMs: services.limits.maxClockSkewMs,
  };
}

function checkTimestamp(value: string | undefined, name: string, ports: AuthPorts): void {
  if (!value) throw apiError('MissingParameter', name);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value)) throw apiError('InvalidTimeStamp.Format');
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw apiError('InvalidTimeStamp.Format');
  if (Math.abs(ports.now() - t) > ports.maxSkewMs) throw apiError('InvalidTimeStamp.Expired');
}

async function checkNonce(accessKeyId: string, nonce: string | undefined, name: string, ports: AuthPorts): Promise<void> {
  if (!nonce) throw apiError('MissingParameter', name);
  if (nonce.length > 128) throw apiError('InvalidParameter', name);
  const fresh = await ports.useNonce(`${accessKeyId}:${nonce}`, ports.now() + 2 * ports.maxSkewMs);
  if (!fresh) throw apiError('SignatureNonceUsed');
}

/** A request whose signature holds: the caller's account, and the check of its nonce, started (await it before answering). */
export interface Verified {
  accountId: string;
  nonceChecked: Promise<void>;
}

function verified(accountId: string, nonceChecked: Promise<void>): Verified {
  nonceChecked.catch(() => {}); // awaited by the caller, perhaps after other work has started
  return { accountId, nonceChecked };
}

/** Data endpoints stream their bodies, so they may sign `x-acs-content-sha256: UNSIGNED-PAYLOAD` instead of a hash. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface AuthOptions {
  allowUnsignedPayload?: boolean;
}

/**
 * Headers a V3 signature must cover, as Alibaba's gateway requires: otherwise a captured request could be
 * resent with another action, version, date, nonce, payload or host. The data endpoints name their
 * operation by method and path (both signed), so they need no `x-acs-action`/`x-acs-version`.
 */
export const RPC_SIGNED_HEADERS = ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'] as const;
export const DATA_SIGNED_HEADERS = ['host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'] as const;

function hasBody(req: RpcRequest): boolean {
  if (req.rawBody.length > 0) return true;
  const length = headerValue(req.headers, 'content-length');
  return (length !== undefined && length !== '0') || headerValue(req.headers, 'transfer-encoding') !== undefined;
}

/**
 * The names in SignedHeaders must include every required header (lower-case, as signed), and `content-type`
 * when the request has a body (RPC: it decides whether the body is read as parameters) or, on the data
 * endpoints, whenever it is sent.
 */
function checkSignedHeaders(req: RpcRequest, signed: readonly string[], data: boolean): void {
  const required: string[] = [...(data ? DATA_SIGNED_HEADERS : RPC_SIGNED_HEADERS)];
  if (data ? headerValue(req.headers, 'content-type') !== undefined : hasBody(req)) required.push('content-type');
  const missing = required.filter((h) => !signed.includes(h));
  if (missing.length) throw apiError('IncompleteSignature');
}

/** True when the request claims a V3 signature; then headers such as `x-acs-action` are signed. */
export function isV3Request(headers: RpcRequest['headers']): boolean {
  const v = headers.authorization;
  return (Array.isArray(v) ? v[0] : v)?.startsWith('ACS3-') === true;
}

async function verifyV3(req: RpcRequest, authorization: string, ports: AuthPorts, opts: AuthOptions): Promise<Verified> {
  const auth = parseV3Authorization(authorization);
  if (!auth) throw apiError('IncompleteSignature');
  if (auth.algorithm !== V3_ALGORITHM) throw apiError('UnsupportedSignatureMethod');
  checkSignedHeaders(req, auth.signedHeaders, opts.allowUnsignedPayload === true);
  checkTimestamp(headerValue(req.headers, 'x-acs-date'), 'x-acs-date', ports);
  const declared = headerValue(req.headers, 'x-acs-content-sha256');
  const unsigned = opts.allowUnsignedPayload === true && declared === UNSIGNED_PAYLOAD;
  const payloadHash = unsigned ? UNSIGNED_PAYLOAD : sha256Hex(req.rawBody);
  if (declared !== undefined && !unsigned && declared.toLowerCase() !== payloadHash) {
    throw apiError('SignatureDoesNotMatch', `x-acs-content-sha256 does not match the request body (expected ${payloadHash})`);
  }
  const key = await ports.findAccessKey(auth.accessKeyId);
  if (!key) throw apiError('InvalidAccessKeyId.NotFound');
  const stringToSign = v3StringToSign(
    v3CanonicalRequest({ method: req.method, path: req.path, query: req.query, headers: req.headers, signedHeaders: auth.signedHeaders, payloadHash }),
  );
  if (!sameSecret(v3Signature(key.secret, stringToSign), auth.signature)) {
    throw apiError('SignatureDoesNotMatch', stringToSign);
  }
  return verified(key.accountId, checkNonce(auth.accessKeyId, headerValue(req.headers, 'x-acs-signature-nonce'), 'x-acs-signature-nonce', ports));
}

async function verifyV1(req: RpcRequest, ports: AuthPorts): Promise<Verified> {
  const p = req.params;
  if (!p.AccessKeyId) throw apiError('MissingParameter', 'AccessKeyId');
  if (!p.Signature) throw apiError('MissingParameter', 'Signature');
  if (p.SignatureMethod && p.SignatureMethod !== 'HMAC-SHA1') throw apiError('UnsupportedSignatureMethod');
  checkTimestamp(p.Timestamp, 'Timestamp', ports);
  const key = await ports.findAccessKey(p.AccessKeyId);
  if (!key) throw apiError('InvalidAccessKeyId.NotFound');
  const stringToSign = v1StringToSign(req.method, p);
  if (!sameSecret(v1Signature(key.secret, stringToSign), p.Signature)) {
    throw apiError('SignatureDoesNotMatch', stringToSign);
  }
  return verified(key.accountId, checkNonce(p.AccessKeyId, p.SignatureNonce, 'SignatureNonce', ports));
}

export async function verify(req: RpcRequest, ports: AuthPorts, opts: AuthOptions = {}): Promise<Verified> {
  const authorization = headerValue(req.headers, 'authorization');
  if (authorization && isV3Request(req.headers)) return verifyV3(req, authorization, ports, opts);
  if (opts.allowUnsignedPayload) throw apiError('IncompleteSignature'); // data endpoints take V3 only
  return verifyV1(req, ports);
}

export async function authenticate(req: RpcRequest, ports: AuthPorts, opts: AuthOptions = {}): Promise<string> {
  const { accountId, nonceChecked } = await verify(req, ports, opts);
  await nonceChecked;
  return accountId;
}

/**
 * Authentication for the data endpoints (disk content, uploads, downloads, bills): the same ACS3-HMAC-SHA256
 * signature as the RPC gateway, over method, path, query and signed headers, with the body left unsigned
 * (`x-acs-content-sha256: UNSIGNED-PAYLOAD`) because it streams. It runs before any of the body is read.
 */
export async function authenticateData(req: FastifyRequest, ports: AuthPorts): Promise<string> {
  const query = queryPairs(req.raw.url);
  const path = (req.raw.url ?? '/').split('?', 1)[0];
  return authenticate(
    { method: req.method, path, headers: req.headers, query, form: [], rawBody: Buffer.alloc(0), params: singleValued(query) },
    ports,
    { allowUnsignedPayload: true },
  );
}
