import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { toApiError } from '../../../src/services/errors.ts';
import { exportImage, writeExportFile } from '../../../src/formats/writers/index.ts';
import { openRawVirtualDisk } from '../raw-virtual-disk.ts';
import { type BuiltFixture, KiB, MiB, buildFixtures, countNonZeroBlocks, drain, qemuCompare, qemuImg, qemuInfo, sha256File } from './fixtures.ts';
import { needing } from '../../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let built: ReturnType<typeof buildFixtures>;
const exported = new Map<string, string>(); // fixture name -> exported file
before(async () => {
  built = buildFixtures();
  for (const f of built.fixtures.filter((x) => x.size % 512 === 0)) exported.set(f.name, await exportVmdk(f));
});
after(() => built.cleanup());

const sectorSized = () => built.fixtures.filter((f) => f.size % 512 === 0);

async function exportVmdk(f: BuiltFixture): Promise<string> {
  const disk = await openRawVirtualDisk(f.raw);
  try {
    assert.equal(exportImage(disk, 'vmdk').size, undefined, 'compressed size is not known up front');
    const out = path.join(built.dir, `${f.name}.out.vmdk`);
    const { bytes } = await writeExportFile(disk, 'vmdk', out);
    assert.equal(fs.statSync(out).size, bytes);
    return out;
  } finally {
    await disk.close();
  }
}

/** Walks the markers of a streamOptimized file in order (the VMware layout), independently of the writer. */
function walkMarkers(file: Buffer) {
  const kinds: string[] = [];
  const grainLbas: number[] = [];
  let pos = file.readUInt32LE(64 + 0) * 512; // overHead: the first marker
  let gdSector = -1;
  while (pos < file.length) {
    const value = Number(file.readBigUInt64LE(pos));
    const size = file.readUInt32LE(pos + 8);
    if (size !== 0) {
      grainLbas.push(value);
      const grain = inflateSync(file.subarray(pos + 12, pos + 12 + size));
      assert.equal(grain.length, 64 * KiB, 'whole grains');
      pos += Math.ceil((12 + size) / 512) * 512;
      kinds.push('grain');
      continue;
    }
    const type = file.readUInt32LE(pos + 12);
    kinds.push(['eos', 'gt', 'gd', 'footer'][type] ?? `unknown ${type}`);
    if (type === 2) gdSector = pos / 512 + 1;
    pos += 512 + value * 512;
  }
  return { kinds, grainLbas, gdSector };
}

test('streamOptimized VMDK passes qemu-img check and compare, keeps the size, and is smaller than raw', async () => {
  for (const f of sectorSized()) {
    const out = exported.get(f.name)!;
    const check = qemuImg(['check', '-f', 'vmdk', out]);
    assert.equal(check.status, 0, `${f.name}: ${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /No errors were found/);
    assert.deepEqual(qemuCompare(f.raw, out, 'vmdk'), { status: 0, message: 'Images are identical.' }, f.name);
    const info = qemuInfo(out, 'vmdk') as ReturnType<typeof qemuInfo> & { 'format-specific': { data: Record<string, unknown> } };
    assert.equal(info['virtual-size'], f.size, f.name);
    assert.equal(info['format-specific'].data['create-type'], 'streamOptimized');
    assert.ok(fs.statSync(out).size < f.size, `${f.name}: not smaller than raw`);
  }
});

test('VMDK uses the VMware layout: grains in order, a GT after its grains, then GD, footer, end-of-stream', async () => {
  for (const f of sectorSized()) {
    const file = fs.readFileSync(exported.get(f.name)!);
    assert.equal(file.toString('latin1', 0, 4), 'KDMV');
    assert.equal(file.readBigUInt64LE(56), 0xffffffffffffffffn, 'header gdOffset is GD_AT_END');
    const { kinds, grainLbas, gdSector } = walkMarkers(file);
    assert.equal(grainLbas.length, countNonZeroBlocks(f.raw, 64 * KiB), f.name);
    assert.deepEqual(grainLbas, [...grainLbas].sort((a, b) => a - b), 'grains in guest order');
    const gtRegionsWithData = new Set(grainLbas.map((lba) => Math.floor(lba / (64 * 1024)))).size; // 32 MiB = 65536 sectors
    assert.equal(kinds.filter((k) => k === 'gt').length, gtRegionsWithData, f.name);
    assert.deepEqual(kinds.slice(-3), ['gd', 'footer', 'eos'], f.name);
    const footer = file.subarray(file.length - 1024, file.length - 512);
    assert.equal(footer.toString('latin1', 0, 4), 'KDMV');
    assert.equal(Number(footer.readBigUInt64LE(56)), gdSector, 'footer points at the GD');
  }
});

test('VMDK stream is repeatable with a fixed id', async () => {
  const f = built.fixtures.find((x) => x.name === 'sparse-37m512')!;
  const disk = await openRawVirtualDisk(f.raw);
  try {
    const options = { uniqueId: Buffer.alloc(16, 7) };
    const a = await drain(exportImage(disk, 'vmdk', options).stream());
    const b = await drain(exportImage(disk, 'vmdk', options).stream());
    assert.deepEqual(a, b);
    const out = path.join(built.dir, 'repeat.vmdk');
    await writeExportFile(disk, 'vmdk', out, options);
    assert.equal(sha256File(out), a.sha256);
    assert.ok(a.bytes < 4 * MiB);
  } finally {
    await disk.close();
  }
});

test('VMDK refuses a size that is not a multiple of 512 bytes', async () => {
  const f = built.fixtures.find((x) => x.size % 512 !== 0)!;
  const disk = await openRawVirtualDisk(f.raw);
  try {
    assert.throws(
      () => exportImage(disk, 'vmdk'),
      (e: unknown) => toApiError(e).code === 'InvalidImageFormat.Malformed' && /VMDK.*multiple of 512/.test(toApiError(e).message),
    );
  } finally {
    await disk.close();
  }
});
