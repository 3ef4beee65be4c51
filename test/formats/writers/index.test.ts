import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VirtualDisk } from '../../../src/domain/disk.ts';
import { toApiError } from '../../../src/services/errors.ts';
import type { ExportFormat } from '../../../src/formats/types.ts';
import { exportExtension, exportImage } from '../../../src/formats/writers/index.ts';
import { drain } from './fixtures.ts';

const EMPTY: VirtualDisk = { virtualSize: 0, chunkCount: 0, dataChunks: () => [], zeroMask: () => null, readChunk: async () => null };

test('an empty disk exports as an empty raw file and is refused by the other formats', async () => {
  const raw = exportImage(EMPTY, 'raw');
  assert.equal(raw.size, 0);
  assert.equal((await drain(raw.stream())).bytes, 0);
  for (const format of ['qcow2', 'vhd', 'vhd-fixed', 'vmdk'] as const) {
    assert.throws(() => exportImage(EMPTY, format), (e: unknown) => toApiError(e).code === 'InvalidImageFormat.Malformed', format);
  }
});

test('an unknown format is an error, and file extensions follow the format', () => {
  assert.throws(() => exportImage(EMPTY, 'vdi' as ExportFormat), /unknown export format/);
  assert.deepEqual(
    (['raw', 'qcow2', 'vhd', 'vhd-fixed', 'vmdk'] as const).map(exportExtension),
    ['raw', 'qcow2', 'vhd', 'vhd', 'vmdk'],
  );
});

test('a chunk whose bytes have the wrong length fails the export instead of corrupting it', async () => {
  const disk: VirtualDisk = { virtualSize: 1024 * 1024, chunkCount: 1, dataChunks: () => [0], zeroMask: () => 0n, readChunk: async () => Buffer.alloc(4096, 1) };
  for (const format of ['raw', 'qcow2', 'vhd', 'vmdk'] as const) {
    await assert.rejects(drain(exportImage(disk, format).stream()), /expected 1048576/, format);
  }
});
