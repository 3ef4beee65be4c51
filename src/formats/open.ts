/** Dispatch from format name to parser. */
import type { ByteSource, ImportFormat } from './types.ts';
import type { OpenedImage } from './image.ts';
import type { Limits } from './limits.ts';
import type { Detection } from './detect.ts';
import { openRaw, openIso } from './flat.ts';
import { openQcow2 } from './qcow2/reader.ts';
import { openVhd } from './vhd/reader.ts';
import { openVmdk } from './vmdk/reader.ts';
import { openVhdx } from './vhdx/reader.ts';

export function openImage(src: ByteSource, format: ImportFormat, detection: Detection, limits: Limits): Promise<OpenedImage> {
  switch (format) {
    case 'raw': return openRaw(src, limits);
    case 'iso': return openIso(src, limits);
    case 'qcow2': return openQcow2(src, limits);
    case 'vhd': return openVhd(src, limits);
    case 'vmdk': return openVmdk(src, limits, detection);
    case 'vhdx': return openVhdx(src, limits);
  }
}
