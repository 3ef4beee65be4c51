import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toApiError } from '../../../src/services/errors.ts';
import { exportImage, writeExportFile } from '../../../src/formats/writers/index.ts';
import { openRawVirtualDisk } from '../raw-virtual-disk.ts';
import { type BuiltFixture, KiB, buildFixtures, countNonZeroBlocks, drain, qemuCompare, qemuImg, qemuInfo, sha256File } from './fixtures.ts';
import { needing } from '../../support/requires.ts';

const { after, before, test } = needing('qemu-img');

let built: ReturnType<typeof buildFixtures>;
before(() => {
  built = buildFixtures();
});
after(() => built.cleanup());

const sectorSized = () => built.fixtures.filter((f) => f.size % 512 === 0);

async function exportQcow2(f: BuiltFixture): Promise<{ out: string; size: number | undefined; bytes: number }> {
  const disk = await openRawVirtualDisk(f.raw);
  try {
    const out = path.join(built.dir, `${f.name}.out.qcow2`);
    const { size } = exportImage(disk, 'qcow2');
    const { bytes } = await writeExportFile(disk, 'qcow2', out);
    return { out, size, bytes };
  } finally {
    await disk.close();
  }
}

test('qcow2 exports pass qemu-img check, compare identical and keep the exact virtual size', async () => {
  for (const f of sectorSized()) {
    const { out, size, bytes } = await exportQcow2(f);
    assert.equal(bytes, size, `${f.name}: announced size`);
    assert.equal(fs.statSync(out).size, size, `${f.name}: file size`);

    const check = qemuImg(['check', '-f', 'qcow2', '--output=json', out]);
    assert.equal(check.status, 0, `${f.name}: qemu-img check: ${check.stdout}${check.stderr}`);
    const report = JSON.parse(check.stdout);
    assert.equal(report.leaks ?? 0, 0, f.name);
    assert.equal(report.corruptions ?? 0, 0, f.name);
    assert.equal(report['check-errors'] ?? 0, 0, f.name);
    // Only non-zero 64 KiB blocks became data clusters.
    assert.equal(report['allocated-clusters'] ?? 0, countNonZeroBlocks(f.raw, 64 * KiB), `${f.name}: allocated clusters`);

    assert.deepEqual(qemuCompare(f.raw, out, 'qcow2'), { status: 0, message: 'Images are identical.' }, f.name);
    const info = qemuInfo(out, 'qcow2');
    assert.equal(info['virtual-size'], f.size, f.name);
    assert.ok(size! < f.size, `${f.name}: ${size} bytes is not smaller than the raw ${f.size}`);
  }
});

test('qcow2 stream is repeatable and matches the written file', async () => {
  const f = built.fixtures.find((x) => x.name === 'sparse-37m512')!;
  const { out } = await exportQcow2(f);
  const disk = await openRawVirtualDisk(f.raw);
  try {
    const exp = exportImage(disk, 'qcow2');
    const first = await drain(exp.stream());
    const second = await drain(exp.stream());
    assert.deepEqual(first, second);
    assert.equal(first.bytes, exp.size);
    assert.equal(first.sha256, sha256File(out));
  } finally {
    await disk.close();
  }
});

test('qcow2 refuses a size that is not a whole number of sectors (QEMU would drop the tail)', async () => {
  const f = built.fixtures.find((x) => x.size % 512 !== 0)!;
  const disk = await openRawVirtualDisk(f.raw);
  try {
    assert.throws(
      () => exportImage(disk, 'qcow2'),
      (e: unknown) => toApiError(e).code === 'InvalidImageFormat.Malformed' && /multiple of 512/.test(toApiError(e).message),
    );
  } finally {
    await disk.close();
  }
});
