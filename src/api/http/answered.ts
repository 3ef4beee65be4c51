/** Work tied to a response rather than to its handler: a download's body goes on after the handler returned. */
import type { FastifyReply } from 'fastify';

/** Calls `fn` once the response is over: sent, failed, or its client gone (hijacked replies too). */
export function whenAnswered(reply: FastifyReply, fn: () => void): void {
  const res = reply.raw;
  if (res.destroyed || res.writableFinished) fn();
  else res.once('close', fn);
}
