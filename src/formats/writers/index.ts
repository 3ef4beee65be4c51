/**
 * Exports: a VirtualDisk as the bytes of a raw, qcow2, VHD (dynamic or fixed) or streamOptimized VMDK file,
 * streamed in order with a bounded amount of memory (a few 4 MiB chunks in flight).
 */
import type { VirtualDisk } from '../../domain/disk.ts';
import type { ExportFormat } from '../types.ts';
import { writeStreamToFile } from './file.ts';
import { qcow2Export } from './qcow2.ts';
import { rawExport, writeSparseRaw } from './raw.ts';
import type { ExportOptions, ExportStream } from './types.ts';
import { vhdDynamicExport, vhdFixedExport } from './vhd.ts';
import { vmdkStreamOptimizedExport } from './vmdk.ts';
import type { ChunkBufferPool } from '../buffer-pool.ts';

export type { ExportOptions, ExportStream } from './types.ts';

/**
 * The export's bytes and, except for vmdk, their exact length (computed from the zero masks, no data read).
 * Throws a FormatError 'unexportable' when the format cannot hold the disk
 * (VHD/VMDK need a size that is a multiple of 512; VHD holds at most 2040 GiB).
 */
export function exportImage(disk: VirtualDisk, format: ExportFormat, options: ExportOptions = {}): ExportStream {
  switch (format) {
    case 'raw':
      return rawExport(disk);
    case 'qcow2':
      return qcow2Export(disk);
    case 'vhd':
      return vhdDynamicExport(disk, options);
    case 'vhd-fixed':
      return vhdFixedExport(disk, options);
    case 'vmdk':
      return vmdkStreamOptimizedExport(disk, options);
    default:
      throw new Error(`unknown export format ${String(format satisfies never)}`);
  }
}

/**
 * Writes the export to `path` and fsyncs it. raw becomes a sparse file (holes for zero ranges). `staging`: reused
 * write buffers (formats/writers/file.ts), for a caller that writes many files.
 */
export async function writeExportFile(
  disk: VirtualDisk,
  format: ExportFormat,
  path: string,
  options: ExportOptions = {},
  staging?: ChunkBufferPool,
): Promise<{ bytes: number }> {
  if (format === 'raw') return writeSparseRaw(disk, path, staging);
  return writeStreamToFile(exportImage(disk, format, options).stream(), path, staging);
}

/** File name extension for an export format. */
export function exportExtension(format: ExportFormat): string {
  return format === 'vhd-fixed' ? 'vhd' : format;
}
