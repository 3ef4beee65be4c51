import { defineAction } from '../../action.ts';
import { creationTimeFilter, p, page, pageParams, regionParam, tagFilterParams, tagFilters } from '../../params.ts';
import { apiError } from '../../../../domain/errors.ts';
import { ARCHITECTURES, IMAGE_STATUSES, OS_TYPES, OWNER_ALIASES, USAGES } from '../../../../domain/image-rules.ts';
import { describeImages } from '../../../../services/images/describe.ts';
import type { ImageFilter } from '../../../../services/images/filter.ts';
import { imageToWire } from '../../views/image.ts';
import { architecturesOf } from '../../../../services/images/instance-types.ts';
import type { Services } from '../../../../services/context.ts';
import { subscribedCodes } from '../../../../services/marketplace/subscriptions.ts';
import { imagesInUse } from '../../../../services/images/in-use.ts';

const FEATURE_FILTERS = ['CpuOnlineUpgrade', 'CpuOnlineDowngrade', 'MemoryOnlineUpgrade', 'MemoryOnlineDowngrade'];

function statuses(raw: string | undefined): string[] | undefined {
  if (!raw) return ['Available'];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 1 && list[0].toUpperCase() === 'ALL') return undefined;
  for (const s of list) if (!(IMAGE_STATUSES as readonly string[]).includes(s)) throw apiError('InvalidParameter', 'Status');
  return list;
}

function architecturesFor(services: Services, instanceType: string): string[] {
  const t = services.instanceTypes.find((x) => x.InstanceTypeId === instanceType);
  if (!t) throw apiError('InvalidInstanceType.ValueNotSupported', instanceType);
  return architecturesOf(t);
}

function applyFilters(filter: ImageFilter, filters: { Key?: string; Value?: string }[]): void {
  for (const { Key, Value } of filters) {
    if (!Key || creationTimeFilter(filter, Key, Value)) continue;
    if (Key === 'NetworkType') {
      if (Value !== 'vpc' && Value !== 'classic') throw apiError('InvalidFilterValue');
      if (Value === 'classic') filter.matchesNothing = true; // every image here is VPC-only
    } else if (FEATURE_FILTERS.includes(Key)) {
      if (Value !== 'supported' && Value !== 'unsupported') throw apiError('InvalidFilterValue');
      if (Value === 'supported') filter.matchesNothing = true; // no image here supports online CPU/memory changes
    } else {
      throw apiError('InvalidFilterKey.NotFound');
    }
  }
}

export default defineAction({
  name: 'DescribeImages',
  readOnly: true,
  schema: {
    ...regionParam,
    ImageId: p.str({ maxLength: 4096 }),
    ImageName: p.str({ maxLength: 128 }),
    ImageFamily: p.str({ maxLength: 128 }),
    ImageOwnerAlias: p.str({ enum: OWNER_ALIASES, invalid: 'InvalidImageOwnerAlias.ValueNotSupported' }),
    ImageOwnerId: p.int({ min: 0 }),
    Status: p.str({ maxLength: 256 }),
    OSType: p.str({ enum: OS_TYPES, caseInsensitive: true, invalid: 'InvalidOSType' }),
    Architecture: p.str({ enum: ARCHITECTURES, invalid: 'InvalidArchitecture' }),
    Usage: p.str({ enum: USAGES, invalid: 'InvalidUsage' }),
    IsSupportCloudinit: p.bool(),
    IsSupportIoOptimized: p.bool(),
    IsPublic: p.bool(),
    ShowExpired: p.bool(),
    Usable: p.bool(),
    SnapshotId: p.str({ maxLength: 64 }),
    InstanceType: p.str({ maxLength: 64 }),
    ActionType: p.str({ enum: ['CreateEcs', 'ChangeOS'] }),
    ResourceGroupId: p.str({ maxLength: 64 }),
    DryRun: p.bool(),
    ...tagFilterParams,
    Filter: p.structs({ Key: p.str({ maxLength: 64 }), Value: p.str({ maxLength: 256 }) }, { max: 20 }),
    ...pageParams,
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    if (params.IsPublic && params.ImageOwnerAlias !== 'others') throw apiError('InvalidImageOwnerAlias.PublicImageUnsupported');
    if (params.ImageOwnerId !== undefined && params.ImageOwnerAlias !== 'others') throw apiError('InvalidOperation.ImageOwnerIdUnsupported');

    const filter: ImageFilter = {
      region: region.id,
      viewer: accountId,
      ids: params.ImageId?.split(',').map((s) => s.trim()).filter(Boolean),
      name: params.ImageName,
      family: params.ImageFamily,
      alias: params.ImageOwnerAlias,
      statuses: statuses(params.Status),
      osType: params.OSType,
      architectures: params.Architecture ? [params.Architecture] : undefined,
      isSupportCloudinit: params.IsSupportCloudinit,
      isSupportIoOptimized: params.IsSupportIoOptimized,
      isPublic: params.IsPublic,
      ownerId: params.ImageOwnerId === undefined ? undefined : String(params.ImageOwnerId),
      snapshotId: params.SnapshotId,
      tags: tagFilters(params.Tag),
      usage: params.Usage as ImageFilter['usage'],
    };
    if (params.InstanceType) {
      const allowed = architecturesFor(services, params.InstanceType);
      filter.architectures = filter.architectures ? filter.architectures.filter((a) => allowed.includes(a)) : allowed;
    }
    applyFilters(filter, params.Filter);
    if (filter.usage) filter.inUse = await imagesInUse(services, region.id);
    if (params.DryRun) throw apiError('DryRunOperation');

    const pg = page(params);
    const { total, items } = await describeImages(services, filter, { offset: pg.offset, limit: pg.pageSize });
    const subscribed = await subscribedCodes(services, accountId, items.map((i) => i.row.product_code));
    return {
      RegionId: region.id,
      TotalCount: total,
      PageNumber: pg.pageNumber,
      PageSize: pg.pageSize,
      Images: { Image: items.map((v) => imageToWire(v, subscribed.has(v.row.product_code))) },
    };
  },
});
