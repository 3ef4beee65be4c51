/** Disk categories and the size ranges RunInstances, ReplaceSystemDisk and CreateDisk accept (GiB). */
import { apiError } from '../../domain/errors.ts';

export const DISK_CATEGORIES = ['cloud', 'cloud_efficiency', 'cloud_ssd', 'cloud_essd', 'cloud_auto', 'cloud_essd_entry'] as const;
export type DiskCategory = (typeof DISK_CATEGORIES)[number];
export const DEFAULT_CATEGORY: DiskCategory = 'cloud_efficiency';
export const PERFORMANCE_LEVELS = ['PL0', 'PL1', 'PL2', 'PL3'] as const;

const ESSD_MIN: Record<string, number> = { PL0: 1, PL1: 20, PL2: 461, PL3: 1261 };

function categoryMin(category: string, performanceLevel: string | undefined): number {
  if (category === 'cloud_essd') return ESSD_MIN[performanceLevel ?? 'PL1'];
  if (category === 'cloud_auto') return 1;
  if (category === 'cloud_essd_entry') return 10;
  return 20;
}

export interface SystemDiskInput {
  category: string;
  performanceLevel?: string;
  /** Requested GiB, if any. */
  size?: number;
  imageGib: number;
  osType: string;
  /** ReplaceSystemDisk: the disk never shrinks below the current one. */
  currentGib?: number;
}

/** The system disk's size: at least the image (and the current disk), within the category's range. */
export function systemDiskSize(d: SystemDiskInput): number {
  const min = Math.max(categoryMin(d.category, d.performanceLevel), d.osType === 'windows' ? 40 : 0);
  const max = d.category === 'cloud' ? 500 : 2048;
  if (d.size === undefined) return Math.min(max, Math.max(40, d.imageGib, d.currentGib ?? 0, min));
  if (d.size < d.imageGib) throw apiError('InvalidSystemDiskSize.LessThanImageSize');
  if (d.currentGib !== undefined && d.size < d.currentGib) throw apiError('InvalidSystemDiskSize.ValueNotSupported');
  if (d.size < min) throw apiError('InvalidSystemDiskSize.LessThanMinSize');
  if (d.size > max) throw apiError('InvalidSystemDiskSize.MoreThanMaxSize');
  return d.size;
}

/** The sizes (GiB) a data disk of this category may have. */
export function dataDiskRange(category: string, performanceLevel: string | undefined): { min: number; max: number } {
  const min = category === 'cloud' ? 5 : categoryMin(category, performanceLevel);
  const max = category === 'cloud' ? 2000 : category === 'cloud_essd' || category === 'cloud_auto' ? 65536 : 32768;
  return { min, max };
}

/** A data disk's size: the requested one (at least the source snapshot's) within the category's range. */
export function dataDiskSize(category: string, performanceLevel: string | undefined, size: number | undefined, sourceGib?: number): number {
  const { min, max } = dataDiskRange(category, performanceLevel);
  const gib = size ?? (sourceGib === undefined ? undefined : Math.max(sourceGib, min));
  if (gib === undefined) throw apiError('MissingParameter', 'DataDisk.n.Size');
  if ((sourceGib !== undefined && gib < sourceGib) || gib < min || gib > max) {
    throw apiError('InvalidDataDiskSize.ValueNotSupported');
  }
  return gib;
}

/**
 * CreateDisk's size: Size, but never less than the source snapshot's (Alibaba then uses the snapshot's size),
 * within the category's range.
 */
export function standaloneDiskSize(category: string, performanceLevel: string | undefined, size: number | undefined, sourceGib?: number): number {
  const { min, max } = dataDiskRange(category, performanceLevel);
  if (size === undefined && sourceGib === undefined) throw apiError('MissingParameter', 'Size');
  const gib = Math.max(size ?? 0, sourceGib ?? 0, sourceGib !== undefined && size === undefined ? min : 0);
  if (gib < min || gib > max) throw apiError('InvalidDiskSize.ValueNotSupported', `${category}: ${min} to ${max} GiB`);
  return gib;
}

export const GIB = 1024 * 1024 * 1024;
