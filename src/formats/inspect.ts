/**
 * Inspection of untrusted image files: detect the format, check it against the declared one, parse and
 * bounds-check every header and table, and report what the file holds. Nothing is read from anywhere but
 * the given ByteSource, so references to host files (backing files, data files, VMDK extents) cannot leak.
 */
import type { ByteSource, Inspection, InspectOptions } from './types.ts';
import { checkDeclared, detect } from './detect.ts';
import { openImage } from './open.ts';
import { checkAllocated, resolveLimits } from './limits.ts';

export async function inspect(src: ByteSource, opts: InspectOptions = {}): Promise<Inspection> {
  const detection = await detect(src, opts.declared);
  const format = checkDeclared(detection.format, opts.declared);
  const image = await openImage(src, format, detection, resolveLimits(opts));
  const allocatedBytes = await image.scan();
  const features = { ...image.features };
  checkAllocated(allocatedBytes, src.size, features.compressed === true);
  const hostIsGuest = format === 'raw' || format === 'iso' || features.subformat === 'fixed';
  if (hostIsGuest && detection.partitionTable) features.partitionTable = detection.partitionTable;
  return { format, virtualSize: image.virtualSize, allocatedBytes, features };
}
