/**
 * The three kinds of custom image (Huawei IMS's terms) and what each may do, whichever API is asked:
 * - system: an OS disk (plus data disks from CreateImage on an instance, Alibaba-style); launches servers;
 * - data: one data disk and no OS; creates data disks only;
 * - whole (full-ECS): the system disk and every data disk of one server; launching it recreates them all.
 * Full-ECS images may be shared only when made from a backup (then with ≤ 10 tenants); there is no backup
 * service here, so they are never shared. Encrypted IMS images are never shared nor copied across regions.
 */
import { apiError } from './errors.ts';

export const IMAGE_KINDS = ['system', 'data', 'whole'] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];

export const IMAGE_OPERATIONS = ['launch', 'replaceSystemDisk', 'createDisk', 'share', 'export', 'copy', 'crossRegionCopy'] as const;
export type ImageOperation = (typeof IMAGE_OPERATIONS)[number];

/** kind × operation: allowed or not. */
export const IMAGE_KIND_RULES: Record<ImageKind, Record<ImageOperation, boolean>> = {
  system: { launch: true, replaceSystemDisk: true, createDisk: false, share: true, export: true, copy: true, crossRegionCopy: true },
  data: { launch: false, replaceSystemDisk: false, createDisk: true, share: true, export: true, copy: true, crossRegionCopy: true },
  whole: { launch: true, replaceSystemDisk: false, createDisk: false, share: false, export: false, copy: false, crossRegionCopy: false },
};

/**
 * Operations an encrypted image made through an IMS project refuses. Alibaba-style images keep Alibaba's own
 * encryption rules (a CMK-encrypted single-disk image may be shared; services/images/share.ts).
 */
export const IMS_ENCRYPTED_REFUSES: readonly ImageOperation[] = ['share', 'crossRegionCopy'];

const WHOLE_VERBS: Record<ImageOperation, string> = {
  launch: 'launched', replaceSystemDisk: 'used to replace a system disk', createDisk: 'used to create a disk', share: 'shared',
  export: 'exported', copy: 'copied', crossRegionCopy: 'copied to another region',
};

export function imageKindOf(value: string | undefined): ImageKind {
  return (IMAGE_KINDS as readonly string[]).includes(value ?? '') ? (value as ImageKind) : 'system';
}

export interface KindedImage {
  id: string;
  image_kind?: string;
  share_family?: string;
  encrypted: number;
}

/** Throws the rule's error when `image` may not be used for `op`. */
export function assertImageAllows(image: KindedImage, op: ImageOperation): void {
  const kind = imageKindOf(image.image_kind);
  if (!IMAGE_KIND_RULES[kind][op]) {
    if (kind === 'data') throw apiError('InvalidImage.DataDiskImage', image.id);
    if (kind === 'whole') throw apiError('InvalidImage.WholeImage', image.id, WHOLE_VERBS[op]);
    throw apiError('InvalidImage.NotDataDiskImage', image.id);
  }
  if (image.encrypted && image.share_family === 'ims' && IMS_ENCRYPTED_REFUSES.includes(op)) {
    throw apiError(op === 'share' ? 'InvalidImage.EncryptedUnshareable' : 'InvalidImage.EncryptedCrossRegion', image.id);
  }
}

/** Tenants one image may be shared with: Huawei's 128 for images made through an IMS project, Alibaba's 50 otherwise. */
export const SHARE_LIMITS = { ims: 128, alibaba: 50 } as const;

export function shareLimitOf(image: { share_family?: string }): number {
  return image.share_family === 'ims' ? SHARE_LIMITS.ims : SHARE_LIMITS.alibaba;
}
