import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toApiError } from '../../../src/services/errors.ts';
import { exportImage, writeExportFile } from '../../../src/formats/writers/index.ts';
import { vhdGeometry } from '../../../src/formats/writers/vhd.ts';
import { openRawVirtualDisk } from '../raw-virtual-disk.ts';
import { type BuiltFixture, MiB, buildFixtures, countNonZeroBlocks, drain, qemuCompare, qemuImg, qemuInfo } from './fixtures.ts';
import { needing } from '../../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let built: ReturnType<typeof buildFixtures>;
before(() => {
  built = buildFixtures();
});
after(() => built.cleanup());

const sectorSized = () => built.fixtures.filter((f) => f.size % 512 === 0);
const FIXED_OPTIONS = { now: new Date('2024-05-01T00:00:00Z'), uniqueId: Buffer.alloc(16, 0xab) };

async function exportVhd(f: BuiltFixture, format: 'vhd' | 'vhd-fixed') {
  const disk = await openRawVirtualDisk(f.raw);
  try {
    const out = path.join(built.dir, `${f.name}.out.${format}.vhd`);
    const { size } = exportImage(disk, format);
    const { bytes } = await writeExportFile(disk, format, out);
    return { out, size: size!, bytes };
  } finally {
    await disk.close();
  }
}

/** Byte-sum checksum as the VHD spec defines it, computed here independently. */
function checksumOk(buf: Buffer, at: number): boolean {
  let sum = 0;
  buf.forEach((b, i) => {
    if (i < at || i >= at + 4) sum += b;
  });
  return buf.readUInt32BE(at) === (~sum >>> 0);
}

function checkFooter(footer: Buffer, size: number, diskType: number, name: string): void {
  assert.equal(footer.toString('latin1', 0, 8), 'conectix', name);
  assert.equal(footer.toString('latin1', 28, 32), 'qem2', name);
  assert.equal(footer.readBigUInt64BE(40), BigInt(size), `${name}: original size`);
  assert.equal(footer.readBigUInt64BE(48), BigInt(size), `${name}: current size`);
  assert.equal(footer.readUInt32BE(60), diskType, `${name}: disk type`);
  assert.ok(checksumOk(footer, 64), `${name}: footer checksum`);
}

test('dynamic VHD: identical to the input, exact size, one 2 MiB block per non-zero block, valid footers', async () => {
  for (const f of sectorSized()) {
    const { out, size, bytes } = await exportVhd(f, 'vhd');
    assert.equal(bytes, size, f.name);
    assert.equal(fs.statSync(out).size, size, f.name);
    assert.deepEqual(qemuCompare(f.raw, out, 'vpc'), { status: 0, message: 'Images are identical.' }, f.name);
    assert.equal(qemuInfo(out, 'vpc')['virtual-size'], f.size, f.name);

    const entries = Math.ceil(f.size / (2 * MiB));
    const batBytes = Math.ceil((entries * 4) / 512) * 512;
    const blocks = countNonZeroBlocks(f.raw, 2 * MiB);
    assert.equal(size, 1536 + batBytes + blocks * (512 + 2 * MiB) + 512, `${f.name}: layout size`);
    if (blocks < f.size / (2 * MiB) - 1) assert.ok(size < f.size, `${f.name}: smaller than raw`);

    const file = fs.readFileSync(out);
    const head = file.subarray(0, 512);
    const tail = file.subarray(file.length - 512);
    assert.deepEqual(head, tail, `${f.name}: footer copy at 0`);
    checkFooter(tail, f.size, 3, f.name);
    const dyn = file.subarray(512, 1536);
    assert.equal(dyn.toString('latin1', 0, 8), 'cxsparse');
    assert.equal(dyn.readUInt32BE(28), entries);
    assert.equal(dyn.readUInt32BE(32), 2 * MiB);
    assert.ok(checksumOk(dyn, 36), `${f.name}: dynamic header checksum`);
  }
});

test('fixed VHD: raw bytes plus a footer, identical to the input', async () => {
  for (const f of sectorSized().filter((x) => x.size <= 64 * MiB)) {
    const { out, size, bytes } = await exportVhd(f, 'vhd-fixed');
    assert.equal(size, f.size + 512);
    assert.equal(bytes, size);
    assert.equal(fs.statSync(out).size, size);
    assert.deepEqual(qemuCompare(f.raw, out, 'vpc'), { status: 0, message: 'Images are identical.' }, f.name);
    assert.equal(qemuInfo(out, 'vpc')['virtual-size'], f.size, f.name);
    const fd = fs.openSync(out, 'r');
    const footer = Buffer.alloc(512);
    fs.readSync(fd, footer, 0, 512, f.size);
    fs.closeSync(fd);
    checkFooter(footer, f.size, 2, f.name);
    assert.equal(footer.readBigUInt64BE(16), 0xffffffffffffffffn, 'fixed disks have no data offset');
  }
});

test('CHS geometry matches QEMU on the CHS-rounded sizes qemu-img create -f vpc picks', () => {
  // Without force_size, QEMU searches upwards for a size whose spec geometry covers the request and writes
  // that geometry: the algorithm applied to that rounded size must give the same cylinders/heads/sectors.
  const GiB = 1024 * MiB;
  const sizes = [1 * MiB, 37 * MiB + 512, 100 * MiB, 500 * MiB, 4 * GiB, 31 * GiB, 64 * GiB, 127 * GiB + 512, 200 * GiB, 2040 * GiB];
  for (const size of sizes) {
    const file = path.join(built.dir, `geom-${size}.vhd`);
    const r = qemuImg(['create', '-q', '-f', 'vpc', file, String(size)]);
    assert.equal(r.status, 0, r.stderr);
    const footer = Buffer.alloc(512);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, footer, 0, 512, 0);
    fs.closeSync(fd);
    fs.rmSync(file);
    const qemu = [footer.readUInt16BE(56), footer[58], footer[59]];
    const g = vhdGeometry(qemu[0] * qemu[1] * qemu[2] * 512);
    assert.deepEqual([g.cylinders, g.heads, g.sectorsPerTrack], qemu, `geometry for ${size} bytes`);
  }
});

test('VHD bytes are reproducible with a fixed timestamp and id, and differ by id otherwise', async () => {
  const f = built.fixtures.find((x) => x.name === 'exact-4m')!;
  const disk = await openRawVirtualDisk(f.raw);
  try {
    for (const format of ['vhd', 'vhd-fixed'] as const) {
      const a = await drain(exportImage(disk, format, FIXED_OPTIONS).stream());
      const b = await drain(exportImage(disk, format, FIXED_OPTIONS).stream());
      const c = await drain(exportImage(disk, format, { ...FIXED_OPTIONS, uniqueId: Buffer.alloc(16, 1) }).stream());
      assert.deepEqual(a, b, format);
      assert.notEqual(a.sha256, c.sha256, format);
      assert.equal(a.bytes, exportImage(disk, format).size);
    }
  } finally {
    await disk.close();
  }
});

test('VHD refuses a size that is not a multiple of 512 bytes', async () => {
  const f = built.fixtures.find((x) => x.size % 512 !== 0)!;
  const disk = await openRawVirtualDisk(f.raw);
  try {
    for (const format of ['vhd', 'vhd-fixed'] as const) {
      assert.throws(
        () => exportImage(disk, format),
        (e: unknown) => toApiError(e).code === 'InvalidImageFormat.Malformed' && /VHD.*multiple of 512/.test(toApiError(e).message),
      );
    }
  } finally {
    await disk.close();
  }
});
