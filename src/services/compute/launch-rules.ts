/**
 * Which image an account may launch from (RunInstances, CreateInstance, ReplaceSystemDisk): visible to it
 * in the region (own, system, shared with it, community, Marketplace), Available, or Deprecated only when it
 * is the caller's own, and able to run on the instance type.
 */
import { apiError } from '../../domain/errors.ts';
import { assertImageAllows } from '../../domain/image-kinds.ts';
import { isInRegion, type InstanceType } from '../../domain/catalog/index.ts';
import type { Services } from '../context.ts';
import { findVisibleImage, newestOfFamily, type ImageView } from '../images/describe.ts';
import { typeRunsImage } from '../images/instance-types.ts';
import { assertSubscribed } from '../marketplace/subscriptions.ts';

export function requireInstanceType(services: Services, region: string, id: string): InstanceType {
  const t = services.instanceTypes.find((x) => x.InstanceTypeId === id);
  if (!t || !isInRegion(t, region)) throw apiError('InvalidInstanceType.ValueNotSupported', id);
  return t;
}

/** The image named by ImageId, or the newest Available image of ImageFamily, as the caller sees it. */
export async function resolveLaunchImage(services: Services, region: string, accountId: string, ref: { imageId?: string; imageFamily?: string }): Promise<ImageView> {
  if (!ref.imageId && !ref.imageFamily) throw apiError('MissingParameter', 'ImageId');
  const image = ref.imageId
    ? await findVisibleImage(services, region, ref.imageId, accountId)
    : await newestOfFamily(services, region, ref.imageFamily!, accountId);
  if (!image) throw apiError('InvalidImageId.NotFound');
  return image;
}

/** Kind and status rules, and the single place where Marketplace images are checked before launch. */
export async function assertLaunchable(services: Services, image: ImageView, accountId: string, use: 'launch' | 'replaceSystemDisk' = 'launch'): Promise<void> {
  const r = image.row;
  assertImageAllows(r, use);
  const own = r.category === 'self' && r.owner_id === accountId;
  if (r.status !== 'Available' && !(r.status === 'Deprecated' && own)) throw apiError('OperationDenied.ImageNotValid');
  // A Glance image whose data is only at http(s) locations has no disk in the chunk store to boot from.
  if (r.source_kind === 'glance' && image.disks.length === 0) throw apiError('OperationDenied.ImageNotValid');
  // Marketplace images, and images derived from them (they keep the ProductCode), need a subscription.
  if (r.product_code) await assertSubscribed(services, accountId, r.product_code);
}

/** An image a new data disk is made from: visible, Available, and a kind that creates disks (a data disk image). */
export async function assertDiskSourceImage(services: Services, region: string, accountId: string, imageId: string): Promise<ImageView> {
  const image = await resolveLaunchImage(services, region, accountId, { imageId });
  assertImageAllows(image.row, 'createDisk');
  if (image.row.status !== 'Available') throw apiError('OperationDenied.ImageNotValid');
  if (image.row.product_code) await assertSubscribed(services, accountId, image.row.product_code);
  return image;
}

export function assertTypeRunsImage(type: InstanceType, image: ImageView): void {
  if (!typeRunsImage(type, image.row)) throw apiError('ImageNotSupportInstanceType');
}
