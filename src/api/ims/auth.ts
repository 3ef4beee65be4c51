/**
 * Who is calling IMS: an AK/SK signature (`SDK-HMAC-SHA256`, the ECS AccessKey pairs) with `X-Project-Id`
 * naming the key's own project, or a Keystone token (`X-Auth-Token`). The project is the account, with the
 * same id as in Keystone. Huawei's scheme has no nonce: the ±skew window on `X-Sdk-Date` bounds replays.
 */
import type { FastifyRequest } from 'fastify';
import { apiError } from '../../domain/errors.ts';
import { sameSecret } from '../../domain/secrets.ts';
import type { Services } from '../../services/context.ts';
import { findAccessKey } from '../../services/accounts.ts';
import { findProject, validateToken, type Identity } from '../../services/identity/tokens.ts';
import { headerValue } from '../http/headers.ts';
import { queryPairs } from '../http/query.ts';
import { sha256Hex } from '../http/signing.ts';
import {
  huaweiCanonicalRequest, huaweiSignature, huaweiStringToSign, parseHuaweiAuthorization, parseSdkDate,
  SDK_CONTENT_SHA256_HEADER, SDK_DATE_HEADER, UNSIGNED_PAYLOAD,
} from './signature.ts';

const unauthorized = (why: string) => apiError('APIGW.0301', why);

/** Headers a signature must cover, so a captured request cannot be replayed against another host, time or project. */
function requiredSignedHeaders(req: FastifyRequest, rawBody: Buffer): string[] {
  const required = ['host', SDK_DATE_HEADER];
  if (headerValue(req.headers, 'x-project-id') !== undefined) required.push('x-project-id');
  if (headerValue(req.headers, SDK_CONTENT_SHA256_HEADER) !== undefined) required.push(SDK_CONTENT_SHA256_HEADER);
  if (rawBody.length > 0) required.push('content-type');
  return required;
}

/**
 * `UNSIGNED-PAYLOAD`: for an empty body, or a body that is not JSON (the official SDK signs non-JSON bodies so,
 * e.g. GlanceUpdateImage's `application/openstack-images-v2.1-json-patch`). JSON bodies must be signed.
 */
function unsignedBodyAllowed(req: FastifyRequest, rawBody: Buffer): boolean {
  if (rawBody.length === 0) return true;
  const type = (headerValue(req.headers, 'content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
  return type !== '' && type !== 'application/json';
}

async function verifySignature(services: Services, req: FastifyRequest, authorization: string, rawBody: Buffer): Promise<string> {
  const auth = parseHuaweiAuthorization(authorization);
  if (!auth) throw unauthorized('the Authorization header is not an SDK-HMAC-SHA256 signature');
  const missing = requiredSignedHeaders(req, rawBody).filter((h) => !auth.signedHeaders.includes(h));
  if (missing.length) throw unauthorized(`SignedHeaders must include ${missing.join(', ')}`);
  const sdkDate = headerValue(req.headers, SDK_DATE_HEADER) ?? '';
  const signedAt = parseSdkDate(sdkDate);
  if (signedAt === undefined) throw unauthorized('X-Sdk-Date must be YYYYMMDDTHHMMSSZ');
  if (Math.abs(services.clock.now() - signedAt) > services.limits.maxClockSkewMs) throw unauthorized('X-Sdk-Date is outside the allowed clock skew');
  const bodyHash = sha256Hex(rawBody);
  const declared = headerValue(req.headers, SDK_CONTENT_SHA256_HEADER);
  if (declared !== undefined && declared !== bodyHash && !(declared === UNSIGNED_PAYLOAD && unsignedBodyAllowed(req, rawBody))) {
    throw unauthorized('X-Sdk-Content-Sha256 does not match the body');
  }
  const key = await findAccessKey(services, auth.accessKeyId);
  if (!key) throw unauthorized('the access key does not exist');
  const rawUrl = req.raw.url ?? '/';
  const canonical = huaweiCanonicalRequest({
    method: req.method, rawPath: rawUrl.split('?', 1)[0], query: queryPairs(rawUrl), headers: req.headers,
    signedHeaders: auth.signedHeaders, payloadHash: declared ?? bodyHash,
  });
  if (!sameSecret(huaweiSignature(key.secret, huaweiStringToSign(sdkDate, canonical)), auth.signature)) throw unauthorized('verify aksk signature fail');
  return key.accountId;
}

/** The caller, checked against `X-Project-Id` and a `{project_id}` in the path. */
export async function authenticateIms(services: Services, req: FastifyRequest, rawBody: Buffer, pathProject?: string): Promise<Identity> {
  const token = headerValue(req.headers, 'x-auth-token');
  const authorization = headerValue(req.headers, 'authorization');
  let identity: Identity | undefined;
  if (authorization !== undefined) {
    const accountId = await verifySignature(services, req, authorization, rawBody);
    if (headerValue(req.headers, 'x-project-id') === undefined) throw unauthorized('X-Project-Id is required with an AK/SK signature');
    identity = await findProject(services, accountId);
  } else if (token !== undefined) {
    identity = (await validateToken(services, token))?.identity;
    if (!identity) throw unauthorized('the token is not valid');
  } else throw unauthorized('no Authorization or X-Auth-Token header');
  if (!identity) throw unauthorized('the account no longer exists');
  for (const project of [headerValue(req.headers, 'x-project-id'), pathProject]) {
    if (project !== undefined && project !== identity.id) throw apiError('APIGW.0302', `project ${project} is not the project of these credentials`);
  }
  return identity;
}
