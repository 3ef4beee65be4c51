import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { alignedBuffer } from '../../src/formats/aligned-memory.ts';
import { HashPool } from '../../src/blobs/hash-pool.ts';
import { CHUNK_SIZE, ZERO_BLOCK_SIZE } from '../../src/domain/disk.ts';

const sha = (b: Buffer) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

describe('HashPool', () => {
  it('hashes a one-off chunk inline, leaving the caller its buffer', async () => {
    const pool = new HashPool({ workers: 2 });
    try {
      const data = crypto.randomBytes(CHUNK_SIZE);
      const want = sha(data);
      const out = await pool.hash(data);
      assert.equal(out.ref, want);
      assert.equal(data.length, CHUNK_SIZE, 'not transferred');
      assert.equal(out.data, data);
      assert.equal(out.zeroMask, 0n);
    } finally {
      await pool.close();
    }
  });

  it('moves a backlog to workers by transfer and hands the bytes back intact', async () => {
    const pool = new HashPool({ workers: 2 });
    try {
      const inputs = Array.from({ length: 12 }, () => {
        const b = Buffer.alloc(CHUNK_SIZE);
        crypto.randomFillSync(b, 0, CHUNK_SIZE / 2); // upper half zero: blocks 32..63
        return b;
      });
      const copies = inputs.map((b) => Buffer.from(b));
      const outs = await Promise.all(inputs.map((b) => pool.hash(b)));
      let transferred = 0;
      for (let i = 0; i < outs.length; i++) {
        assert.equal(outs[i].ref, sha(copies[i]));
        assert.ok(outs[i].data.equals(copies[i]));
        assert.equal(outs[i].zeroMask, 0xffffffff00000000n);
        if (inputs[i].length === 0) transferred++;
      }
      assert.ok(transferred >= 10, `only ${transferred} of 12 went to workers`);
    } finally {
      await pool.close();
    }
  });

  it('hashes a backlog of shared (aligned) chunks on workers, leaving the caller its buffers', async () => {
    const pool = new HashPool({ workers: 2 });
    try {
      const inputs = Array.from({ length: 12 }, () => crypto.randomFillSync(alignedBuffer(CHUNK_SIZE)));
      const outs = await Promise.all(inputs.map((b) => pool.hash(b)));
      for (let i = 0; i < outs.length; i++) {
        assert.equal(outs[i].ref, sha(inputs[i]));
        assert.equal(outs[i].data, inputs[i]);
        assert.equal(inputs[i].length, CHUNK_SIZE);
      }
    } finally {
      await pool.close();
    }
  });

  it('hashes views of a larger buffer inline without detaching the owner', async () => {
    const pool = new HashPool({ workers: 2 });
    try {
      const big = crypto.randomBytes(3 * ZERO_BLOCK_SIZE * 2);
      const views = [0, 1, 2].map((i) => big.subarray(i * 2 * ZERO_BLOCK_SIZE, (i + 1) * 2 * ZERO_BLOCK_SIZE));
      const outs = await Promise.all(views.map((v) => pool.hash(v)));
      outs.forEach((o, i) => assert.equal(o.ref, sha(views[i])));
      assert.equal(big.length, 6 * ZERO_BLOCK_SIZE);
    } finally {
      await pool.close();
    }
  });

  it('computes the zero mask of a short last chunk', async () => {
    const pool = new HashPool({ workers: 0 });
    const data = Buffer.alloc(ZERO_BLOCK_SIZE * 2 + 100);
    data[ZERO_BLOCK_SIZE + 5] = 1; // block 1 non-zero; blocks 0 and 2 (partial) zero
    const out = await pool.hash(data);
    assert.equal(out.zeroMask, 0b101n);
    await pool.close();
    await assert.rejects(pool.hash(data), /closed/);
  });
});
