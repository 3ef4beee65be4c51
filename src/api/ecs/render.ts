import type { FastifyReply } from 'fastify';
import type { ApiError } from '../../domain/errors.ts';
import { jsonBytes } from '../http/json-bytes.ts';

export type WireFormat = 'JSON' | 'XML';

/** `Format=XML` (any case) selects XML; everything else answers JSON, as the SDKs expect. */
export function wireFormat(format: string | undefined): WireFormat {
  return format?.toUpperCase() === 'XML' ? 'XML' : 'JSON';
}

export const JSON_TYPE = 'application/json;charset=utf-8';
/** The official SDK parses XML errors only with exactly this content type. */
export const XML_TYPE = 'text/xml;charset=utf-8';

/**
 * Text as XML 1.0 character data: markup characters as entities, tab/LF/CR as character references (so
 * parsers keep them), and characters XML 1.0 cannot carry at all (other C0 controls, lone surrogates,
 * U+FFFE/U+FFFF) as U+FFFD. The output is well-formed whatever was stored or echoed.
 */
export function escapeXml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[<>&'"\t\n\r]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    switch (c) {
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '&': return '&amp;';
      case "'": return '&apos;';
      case '"': return '&quot;';
      case '\t': return '&#9;';
      case '\n': return '&#10;';
      case '\r': return '&#13;';
      default: return '\ufffd';
    }
  });
}

function xmlValue(key: string, value: unknown): string {
  if (value === undefined || value === null) return `<${key}/>`;
  if (Array.isArray(value)) return value.map((v) => xmlValue(key, v)).join('');
  if (typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>).map(([k, v]) => xmlValue(k, v)).join('');
    return `<${key}>${inner}</${key}>`;
  }
  return `<${key}>${escapeXml(String(value))}</${key}>`;
}

/** The XML form of a response: root `<ActionResponse>`, wrapper lists as repeated children. */
export function toXml(root: string, body: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>${xmlValue(root, body)}`;
}

export interface Rendered<Body = string> {
  status: number;
  contentType: string;
  body: Body;
}

/**
 * A success answer as bytes: a string body would be measured (Buffer.byteLength) for Content-Length and then encoded
 * again to be written, two passes over a page of 100 images' 100 KB.
 */
export function renderSuccess(action: string, requestId: string, result: Record<string, unknown>, format: WireFormat): Rendered<Buffer> {
  const body = { RequestId: requestId, ...result };
  return format === 'XML'
    ? { status: 200, contentType: XML_TYPE, body: Buffer.from(toXml(`${action}Response`, body)) }
    : { status: 200, contentType: JSON_TYPE, body: jsonBytes(body) };
}

export function renderError(err: ApiError, requestId: string, hostId: string, format: WireFormat): Rendered {
  const body = {
    RequestId: requestId,
    HostId: hostId,
    Code: err.code,
    Message: err.message,
    Recommend: `https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US&q=${encodeURIComponent(err.code)}&product=Ecs&requestId=${requestId}`,
  };
  return format === 'XML'
    ? { status: err.status, contentType: XML_TYPE, body: toXml('Error', body) }
    : { status: err.status, contentType: JSON_TYPE, body: JSON.stringify(body) };
}

/** A data endpoint's JSON answer, with the request's RequestId first. */
export function sendJson(reply: FastifyReply, body: Record<string, unknown>): FastifyReply {
  return reply.code(200).header('content-type', JSON_TYPE).send(jsonBytes({ RequestId: reply.request.id, ...body }));
}
