/** Signature detection and the declared-format rules, on in-memory buffers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource, checkDeclared, detect } from '../../src/formats/index.ts';
import { looksLikeVmdkDescriptor } from '../../src/formats/detect.ts';
import { rejectsWith } from './qemu-fixtures.ts';
import { toApiError } from '../../src/services/errors.ts';

/** The code the API reports for what `fn` throws. */
function apiCodeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return toApiError(e).code;
  }
  return 'no error';
}

function disk(size: number, edits: [number, Buffer | string][]): Buffer {
  const b = Buffer.alloc(size);
  for (const [at, bytes] of edits) (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes).copy(b, at < 0 ? size + at : at);
  return b;
}

const cases: [string, Buffer, string][] = [
  ['qcow2', disk(4096, [[0, 'QFI\xfb']]), 'qcow2'],
  ['QED', disk(4096, [[0, 'QED\0']]), 'qed'],
  ['dynamic VHD (footer copy at 0)', disk(4096, [[0, 'conectix'], [-512, 'conectix']]), 'vhd'],
  ['fixed VHD (footer at EOF-512)', disk(4096, [[-512, 'conectix']]), 'vhd'],
  ['old fixed VHD (footer at EOF-511)', disk(4095, [[-511, 'conectix']]), 'vhd'],
  ['VHDX', disk(4096, [[0, 'vhdxfile']]), 'vhdx'],
  ['VMDK sparse', disk(4096, [[0, 'KDMV']]), 'vmdk'],
  ['VMDK3 sparse', disk(4096, [[0, 'COWD']]), 'vmdk'],
  ['VDI', disk(4096, [[0x40, Buffer.from([0x7f, 0x10, 0xda, 0xbe])]]), 'vdi'],
  ['LUKS', disk(4096, [[0, Buffer.from('LUKS\xba\xbe', 'latin1')]]), 'luks'],
  ['ISO 9660', disk(0x9800, [[0x8001, 'CD001']]), 'iso'],
  ['ISO in the second descriptor', disk(0x9800, [[0x8801, 'CD001']]), 'iso'],
  ['UDF', disk(0x9800, [[0x8001, 'BEA01'], [0x8801, 'NSR02']]), 'iso'],
  ['ISO with GPT', disk(0x9800, [[0x8001, 'CD001'], [510, Buffer.from([0x55, 0xaa])], [512, 'EFI PART']]), 'iso'],
  ['blank', disk(4096, []), 'raw'],
  ['GPT disk', disk(8192, [[510, Buffer.from([0x55, 0xaa])], [512, 'EFI PART']]), 'raw'],
];

for (const [name, bytes, format] of cases) {
  test(`detects ${name} as ${format}`, async () => {
    assert.equal((await detect(bufferSource(bytes))).format, format);
  });
}

test('reports partition tables, but not FAT boot sectors or empty MBRs', async () => {
  const gpt = await detect(bufferSource(disk(8192, [[510, Buffer.from([0x55, 0xaa])], [512, 'EFI PART']])));
  assert.equal(gpt.partitionTable, 'gpt');
  const mbr = disk(4096, [[446, Buffer.from([0x80, 0, 0, 0, 0x83])], [510, Buffer.from([0x55, 0xaa])]]);
  assert.equal((await detect(bufferSource(mbr))).partitionTable, 'mbr');
  const fat = disk(4096, [[0, Buffer.from([0xeb, 0x3c, 0x90])], [54, 'FAT16   '], [446, Buffer.from([0, 0, 0, 0, 0x83])], [510, Buffer.from([0x55, 0xaa])]]);
  assert.equal((await detect(bufferSource(fat))).partitionTable, null);
  const empty = disk(4096, [[510, Buffer.from([0x55, 0xaa])]]);
  assert.equal((await detect(bufferSource(empty))).partitionTable, null);
  const badFlag = disk(4096, [[446, Buffer.from([0x12, 0, 0, 0, 0x83])], [510, Buffer.from([0x55, 0xaa])]]);
  assert.equal((await detect(bufferSource(badFlag))).partitionTable, null);
});

test('text VMDK descriptors are recognised the way qemu probes them', () => {
  assert.equal(looksLikeVmdkDescriptor(Buffer.from('# Disk DescriptorFile\nanything')), true);
  assert.equal(looksLikeVmdkDescriptor(Buffer.from('# comment\n   \nversion=1\ncreateType="x"\n')), true);
  assert.equal(looksLikeVmdkDescriptor(Buffer.from('version=2\r\nRW 1 FLAT "/etc/passwd" 0\r\n')), true);
  assert.equal(looksLikeVmdkDescriptor(Buffer.from('version=4\n')), false);
  assert.equal(looksLikeVmdkDescriptor(Buffer.from('hello world\nversion=1\n')), false);
  assert.equal(looksLikeVmdkDescriptor(Buffer.alloc(512)), false);
});

test('two container signatures are ambiguous', async () => {
  const qcow2Iso = disk(0x9800, [[0, 'QFI\xfb'], [0x8001, 'CD001']]);
  await rejectsWith(detect(bufferSource(qcow2Iso)), 'InvalidImageFormat.Mismatch');
  const qcow2FixedVhd = disk(8192, [[0, 'QFI\xfb'], [-512, 'conectix']]);
  await rejectsWith(detect(bufferSource(qcow2FixedVhd), 'qcow2'), 'InvalidImageFormat.Mismatch');
});

test('declared formats: equal passes, different or raw-with-magic is a mismatch, QED/VDI/LUKS unsupported', () => {
  assert.equal(checkDeclared('qcow2', 'qcow2'), 'qcow2');
  assert.equal(checkDeclared('vhd'), 'vhd');
  assert.equal(checkDeclared('raw', 'raw'), 'raw');
  assert.equal(apiCodeOf(() => checkDeclared('qcow2', 'raw')), 'InvalidImageFormat.Mismatch');
  assert.equal(apiCodeOf(() => checkDeclared('iso', 'raw')), 'InvalidImageFormat.Mismatch');
  assert.equal(apiCodeOf(() => checkDeclared('raw', 'iso')), 'InvalidImageFormat.Mismatch');
  assert.equal(apiCodeOf(() => checkDeclared('vmdk', 'vhd')), 'InvalidImageFormat.Mismatch');
  assert.equal(apiCodeOf(() => checkDeclared('luks', 'raw')), 'InvalidImageFormat.Mismatch');
  for (const f of ['qed', 'vdi', 'luks'] as const) assert.equal(apiCodeOf(() => checkDeclared(f)), 'InvalidImage.UnsupportedFormat');
});
