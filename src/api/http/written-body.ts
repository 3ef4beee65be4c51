/**
 * Answers with a body the handler writes into the response itself, for bodies read into reused buffers: a write's
 * callback says when the socket has taken the bytes, which a piped stream never tells. Fastify's reply is hijacked
 * (no onSend hooks); an error once the headers are out can only end the connection.
 */
import type { Writable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

export async function sendWritten(req: FastifyRequest, reply: FastifyReply, status: number, headers: Record<string, string>, write: (out: Writable) => Promise<void>): Promise<FastifyReply> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') {
    res.end();
    return reply;
  }
  try {
    await write(res);
    res.end();
  } catch (err) {
    // A client that hangs up mid-body is routine; anything else failed on our side after the headers went out.
    if (res.destroyed || req.raw.destroyed) req.log.debug({ err }, 'client left during the response body');
    else req.log.warn({ err }, 'response body failed after its headers were sent');
    res.destroy(err as Error);
  }
  return reply;
}
