/**
 * A byte stream's chunks (an upload's socket reads), one by one as they arrive. A Readable's own async iterator calls
 * `read()`, which joins every chunk buffered meanwhile into one with a copy: a whole extra copy of an upload that
 * arrives faster than it is consumed.
 */
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';

/** Chunks waiting before the stream is paused. */
const HIGH_WATER = 32;

/**
 * Yields `body`'s chunks as they are; pauses it while HIGH_WATER wait. If the consumer stops early (it threw), the rest
 * of the stream is discarded, so an HTTP client still gets the answer.
 */
export async function* chunksOf(body: Readable): AsyncGenerator<Buffer> {
  const waiting: Buffer[] = [];
  let next = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    waiting.push(chunk);
    if (waiting.length - next >= HIGH_WATER) body.pause();
    wake?.();
  };
  body.on('data', onData);
  finished(body).then(
    () => void (ended = true),
    (e: unknown) => void ((failure = e), (ended = true)),
  ).finally(() => wake?.());
  let completed = false;
  try {
    for (;;) {
      if (next < waiting.length) {
        const chunk = waiting[next++];
        if (next === waiting.length) {
          waiting.length = next = 0;
          if (body.isPaused() && !ended) body.resume();
        }
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    completed = true;
  } finally {
    body.off('data', onData);
    if (!completed) body.resume();
  }
}
