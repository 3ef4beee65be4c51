import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { CHUNK_SIZE, ZERO_BLOCK_SIZE, fullMask, hexToMask, isAllZero, isZeroBlock, maskToHex, zeroBlockCount, zeroMaskOf } from '../../src/domain/disk.ts';

const ALL64 = 0xffffffffffffffffn;

test('an all-zero full chunk has every bit set', () => {
  const buf = Buffer.alloc(CHUNK_SIZE);
  assert.equal(isAllZero(buf), true);
  assert.equal(zeroMaskOf(buf), ALL64);
  assert.equal(fullMask(CHUNK_SIZE), ALL64);
});

test('a random chunk has no bit set', () => {
  const buf = randomFillSync(Buffer.alloc(CHUNK_SIZE));
  buf[0] = 1; // ensure non-zero even in the vanishing case of zero bytes
  assert.equal(isAllZero(buf), false);
  assert.equal(zeroMaskOf(buf), 0n);
});

test('single non-zero bytes clear exactly their block bits, including blocks 31, 32 and 63', () => {
  for (const block of [0, 1, 30, 31, 32, 33, 62, 63]) {
    const buf = Buffer.alloc(CHUNK_SIZE);
    buf[block * ZERO_BLOCK_SIZE + ZERO_BLOCK_SIZE - 1] = 7;
    const mask = zeroMaskOf(buf);
    assert.equal(mask, ALL64 & ~(1n << BigInt(block)), `block ${block}`);
    assert.equal(isZeroBlock(mask, block), false);
    assert.equal(isZeroBlock(mask, (block + 1) % 64), true);
  }
});

test('a short last chunk counts its partial block by its actual bytes', () => {
  const len = 3 * ZERO_BLOCK_SIZE + 512;
  assert.equal(zeroBlockCount(len), 4);
  assert.equal(fullMask(len), 0b1111n);
  const buf = Buffer.alloc(len);
  assert.equal(zeroMaskOf(buf), 0b1111n);
  buf[len - 1] = 1;
  assert.equal(zeroMaskOf(buf), 0b0111n);
  buf[len - 1] = 0;
  buf[ZERO_BLOCK_SIZE] = 1;
  assert.equal(zeroMaskOf(buf), 0b1101n);
});

test('isAllZero handles buffers larger than a chunk and empty ones', () => {
  const buf = Buffer.alloc(CHUNK_SIZE * 2 + 10);
  assert.equal(isAllZero(buf), true);
  buf[CHUNK_SIZE * 2 + 9] = 1;
  assert.equal(isAllZero(buf), false);
  assert.equal(isAllZero(Buffer.alloc(0)), true);
  assert.throws(() => zeroMaskOf(buf), RangeError);
});

test('hex round trip keeps 16 digits and rejects malformed input', () => {
  for (const m of [0n, 1n, 0x8000000000000000n, ALL64, 0x0123456789abcdefn]) {
    const hex = maskToHex(m);
    assert.equal(hex.length, 16);
    assert.equal(hexToMask(hex), m);
  }
  assert.equal(maskToHex(1n), '0000000000000001');
  assert.throws(() => hexToMask('123'));
  assert.throws(() => hexToMask('zzzzzzzzzzzzzzzz'));
  assert.throws(() => maskToHex(1n << 64n), RangeError);
});
