/**
 * Generated damage to image files, for the reader fuzz suite: bit flips, integers written over fields (0, max,
 * 2^63, the file's size, offsets of other structures), byte ranges copied over others (a table pointed at the
 * header or at another table), truncation and extension. A mutation is plain data, so a failing case prints as
 * a list that a regression test can replay with `applyMutations`.
 */
import fc from 'fast-check';
import { vhdChecksum } from '../../../src/formats/vhd/footer.ts';
import { signVhdx, VHDX_SIGNED } from '../small-images.ts';

/** Where an edit lands: in the first KiB (headers) more often than anywhere else. Taken modulo the file size. */
export type Position = { near: 'start' | 'end' | 'any'; at: number; align: 1 | 4 | 8 | 512 };

/**
 * An integer value: absolute; relative to the file (its size in bytes or sectors, plus a small delta); or the
 * offset of some place in the file, in bytes, sectors or 4 KiB units (a table pointed at the header or another table).
 */
export type Value = { abs: bigint } | { fileSize: 1 | 512; delta: number } | { inFile: number; unit: 1 | 512 | 4096 };

export type Mutation =
  | { kind: 'flip'; pos: Position; bit: number }
  | { kind: 'int'; pos: Position; width: 1 | 2 | 4 | 8; le: boolean; value: Value }
  | { kind: 'bytes'; pos: Position; bytes: number[] }
  | { kind: 'copy'; from: Position; to: Position; length: number }
  | { kind: 'truncate'; keep: Position }
  | { kind: 'extend'; length: number; fill: number };

const position: fc.Arbitrary<Position> = fc.record({
  near: fc.constantFrom<Position['near']>('start', 'start', 'any', 'end'),
  at: fc.nat(),
  align: fc.constantFrom<Position['align']>(1, 4, 8, 8, 512),
});

const interesting = [0n, 1n, 2n, 0x1ffn, 0x200n, 0x201n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x100000000n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.constantFrom(...interesting).map((abs) => ({ abs })),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((abs) => ({ abs })),
  fc.integer({ min: 0, max: 1 << 20 }).map((n) => ({ abs: BigInt(n) })),
  fc.record({ fileSize: fc.constantFrom<1 | 512>(1, 512), delta: fc.integer({ min: -1024, max: 1024 }) }),
  fc.record({ inFile: fc.nat(), unit: fc.constantFrom<1 | 512 | 4096>(1, 512, 4096) }),
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), pos: position, bit: fc.nat(7) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('int' as const), pos: position, width: fc.constantFrom<1 | 2 | 4 | 8>(1, 2, 4, 8), le: fc.boolean(), value,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), pos: position, bytes: fc.array(fc.nat(255), { maxLength: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('copy' as const), from: position, to: position, length: fc.integer({ min: 1, max: 4096 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), keep: position }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extend' as const), length: fc.integer({ min: 1, max: 8192 }), fill: fc.nat(255) }) },
);

function resolve(p: Position, size: number): number {
  if (size === 0) return 0;
  const raw = p.near === 'start' ? p.at % Math.min(size, 1024) : p.near === 'end' ? size - 1 - (p.at % Math.min(size, 1024)) : p.at % size;
  return raw - (raw % p.align);
}

function valueOf(v: Value, size: number): bigint {
  if ('abs' in v) return v.abs;
  if ('inFile' in v) return BigInt(size === 0 ? 0 : Math.floor((v.inFile % size) / v.unit));
  return BigInt(Math.max(0, Math.floor(size / v.fileSize) + v.delta));
}

/** Applies `m` to `file`, a view of the start of `store` (room to extend into). */
function apply(store: Buffer, file: Buffer, m: Mutation): Buffer {
  switch (m.kind) {
    case 'flip': {
      const at = resolve(m.pos, file.length);
      if (at < file.length) file[at] ^= 1 << m.bit;
      return file;
    }
    case 'int': {
      const at = resolve(m.pos, file.length);
      if (at + m.width > file.length) return file;
      const v = BigInt.asUintN(m.width * 8, valueOf(m.value, file.length));
      for (let i = 0; i < m.width; i++) file[at + (m.le ? i : m.width - 1 - i)] = Number((v >> BigInt(8 * i)) & 0xffn);
      return file;
    }
    case 'bytes': {
      const at = resolve(m.pos, file.length);
      Buffer.from(m.bytes).copy(file, at);
      return file;
    }
    case 'copy':
      file.copy(file, resolve(m.to, file.length), resolve(m.from, file.length), resolve(m.from, file.length) + m.length);
      return file;
    case 'truncate':
      return file.subarray(0, resolve(m.keep, file.length));
    case 'extend': {
      const grown = file.length + m.length <= store.length ? store.subarray(0, file.length + m.length) : Buffer.concat([file, Buffer.alloc(m.length)]);
      return grown.fill(m.fill, file.length);
    }
  }
}

/** Which checksums to recompute after the damage, so that mutations reach past them into the tables. */
export type Resign = 'none' | 'vhd' | 'vhdx';

function resign(file: Buffer, how: Resign): void {
  if (how === 'vhd') {
    for (const [at, length, skip] of [[0, 512, 64], [512, 1024, 36], [file.length - 512, 512, 64]]) {
      if (at < 0 || at + length > file.length) continue;
      const b = file.subarray(at, at + length);
      b.writeUInt32BE(vhdChecksum(b, skip), skip);
    }
  }
  if (how === 'vhdx') for (const [at, length] of VHDX_SIGNED) if (at + length <= file.length) signVhdx(file, at, length);
}

/** Room for the extensions of one case, so a reused scratch buffer rarely has to grow. */
export const EXTEND_ROOM = 64 * 1024;

/**
 * A damaged copy of `seed` (the seed itself is never changed). The copy is made in `scratch` when given (at least
 * the seed's size, better EXTEND_ROOM more): a fuzz loop reuses one buffer instead of allocating megabytes per case.
 */
export function applyMutations(seed: Buffer, mutations: Mutation[], how: Resign = 'none', scratch?: Buffer): Buffer {
  const store = scratch && scratch.length >= seed.length ? scratch : Buffer.allocUnsafe(seed.length);
  let file = store.subarray(0, seed.length);
  seed.copy(file);
  for (const m of mutations) file = apply(store, file, m);
  resign(file, how);
  return file;
}
