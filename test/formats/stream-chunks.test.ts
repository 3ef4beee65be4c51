/** chunksOf: a stream's chunks as they were written, with backpressure, errors and early stops. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { once } from 'node:events';
import { chunksOf } from '../../src/formats/stream-chunks.ts';

test('yields the chunks as written, not joined, even when many wait (a Readable\'s own iterator joins them)', async () => {
  const sizes = Array.from({ length: 100 }, (_, i) => 1000 + i);
  const make = () => {
    const body = new PassThrough({ highWaterMark: 1 << 30 });
    for (const n of sizes) body.write(Buffer.alloc(n, n % 251));
    body.end();
    return body;
  };
  const got: number[] = [];
  for await (const chunk of chunksOf(make())) got.push(chunk.length);
  assert.deepEqual(got, sizes);
  const joined: number[] = [];
  for await (const chunk of make()) joined.push((chunk as Buffer).length);
  assert.ok(joined.length < sizes.length, 'the control: the stream\'s own iterator joins waiting chunks');
});

test('pauses a fast stream while the consumer is slow, and keeps every byte in order', async () => {
  let sent = 0;
  const body = new Readable({
    highWaterMark: 1, // the stream buffers at most one chunk of its own
    read() {
      if (sent === 500) return void this.push(null);
      this.push(Buffer.from([sent++ % 256]));
    },
  });
  let expect = 0;
  let maxAhead = 0;
  for await (const chunk of chunksOf(body)) {
    assert.equal(chunk[0], expect++ % 256);
    maxAhead = Math.max(maxAhead, sent - expect);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(expect, 500);
  assert.ok(maxAhead < 100, `the stream ran ${maxAhead} chunks ahead`);
});

test('an error after some chunks reaches the consumer after them; a premature close is an error too', async () => {
  const body = new PassThrough();
  body.write(Buffer.from('a'));
  setImmediate(() => body.destroy(new Error('connection reset')));
  const got: string[] = [];
  await assert.rejects((async () => { for await (const c of chunksOf(body)) got.push(c.toString()); })(), /connection reset/);
  assert.deepEqual(got, ['a']);
  const closed = new PassThrough();
  setImmediate(() => closed.destroy());
  await assert.rejects((async () => { for await (const _ of chunksOf(closed)); })(), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
});

test('a consumer that stops early leaves the rest of the stream read and discarded', async () => {
  let sent = 0;
  const body = new Readable({
    highWaterMark: 1,
    read() {
      this.push(sent++ === 1000 ? null : Buffer.alloc(10));
    },
  });
  const ended = once(body, 'end');
  await assert.rejects((async () => { for await (const _ of chunksOf(body)) throw new Error('refused'); })(), /refused/);
  await ended;
  assert.equal(sent, 1001);
});
