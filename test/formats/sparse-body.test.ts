/** Sparse bodies: pieces in, frames of their non-zero blocks out, and the same bytes back through the decoder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { decodeSparse, HOLE_UNIT, sparseBody, acceptsSparse, SPARSE_CONTENT_TYPE, type SparsePart, type SparsePiece } from '../../src/formats/sparse-body.ts';

async function* from<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

async function roundTrip(size: number, pieces: SparsePiece[]): Promise<{ bytes: Buffer; frames: { offset: number; data: Buffer }[]; wire: number }> {
  const wire: Buffer[] = [];
  for await (const b of sparseBody(size, from(pieces))) wire.push(Buffer.from(b)); // copied: frames are views of the pieces
  const parts: SparsePart[] = [];
  for await (const p of decodeSparse(from(wire))) parts.push(p);
  assert.deepEqual(parts[0], { size });
  const frames = parts.slice(1) as { offset: number; data: Buffer }[];
  const bytes = Buffer.alloc(size);
  for (const f of frames) f.data.copy(bytes, f.offset);
  return { bytes, frames, wire: wire.reduce((n, b) => n + b.length, 0) };
}

test('zero blocks inside pieces are left out, at any alignment, and the bytes come back the same', async () => {
  const size = 40 * HOLE_UNIT + 123;
  const a = crypto.randomBytes(5 * HOLE_UNIT + 17);
  a.fill(0, HOLE_UNIT, 3 * HOLE_UNIT); // two zero blocks in the middle of the piece
  const b = crypto.randomBytes(1000);
  const c = Buffer.alloc(4 * HOLE_UNIT); // a piece of zeros only
  const d = crypto.randomBytes(123);
  const pieces = [{ offset: 777, data: a }, { offset: 20 * HOLE_UNIT, data: b }, { offset: 30 * HOLE_UNIT, data: c }, { offset: 40 * HOLE_UNIT, data: d }];
  const { bytes, frames, wire } = await roundTrip(size, pieces);
  const expected = Buffer.alloc(size);
  for (const p of pieces) p.data.copy(expected, p.offset);
  assert.ok(bytes.equals(expected));
  assert.equal(frames.length, 4, 'a: the blocks before and after its zeros; b; d');
  assert.deepEqual(frames.map((f) => f.offset), [777, 777 + 3 * HOLE_UNIT, 20 * HOLE_UNIT, 40 * HOLE_UNIT]);
  assert.ok(frames.every((f) => f.data.some((x) => x !== 0)));
  assert.equal(wire, 16 + frames.length * 16 + a.length - 2 * HOLE_UNIT + b.length + d.length);
});

test('an empty or all-zero body is its header alone', async () => {
  assert.equal((await roundTrip(0, [])).wire, 16);
  const { wire, bytes } = await roundTrip(8 * HOLE_UNIT, [{ offset: 0, data: Buffer.alloc(8 * HOLE_UNIT) }]);
  assert.equal(wire, 16);
  assert.equal(bytes.length, 8 * HOLE_UNIT);
});

test('Accept names the sparse type among others, with parameters, in any case; nothing else does', () => {
  assert.ok(acceptsSparse(SPARSE_CONTENT_TYPE));
  assert.ok(acceptsSparse(`${SPARSE_CONTENT_TYPE.toUpperCase()}, application/octet-stream;q=0.5`));
  assert.ok(acceptsSparse(['text/plain', `${SPARSE_CONTENT_TYPE};q=1`]));
  assert.ok(!acceptsSparse(undefined));
  assert.ok(!acceptsSparse('*/*'));
  assert.ok(!acceptsSparse('application/octet-stream'));
});
