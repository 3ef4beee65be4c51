import { defineAction } from '../../action.ts';
import { p, tagFilters } from '../../params.ts';
import { apiError } from '../../../../domain/errors.ts';
import { describeDisks } from '../../../../services/compute/describe.ts';
import { DISK_CATEGORIES } from '../../../../services/compute/disk-rules.ts';
import { paging } from '../../../../services/paging.ts';
import { diskToWire } from '../../views/disk.ts';
import { jsonIds, listParams, pageRequest, pageResponse } from './params.ts';

export default defineAction({
  name: 'DescribeDisks',
  schema: {
    RegionId: p.str({ required: true, maxLength: 64 }),
    ZoneId: p.str({ maxLength: 64 }),
    DiskIds: p.str({ maxLength: 16384 }),
    InstanceId: p.str({ maxLength: 64 }),
    DiskType: p.str({ enum: ['all', 'system', 'data'] }),
    Category: p.str({ enum: ['all', ...DISK_CATEGORIES] }),
    Status: p.str({ enum: ['In_use', 'Available', 'Attaching', 'Detaching', 'Creating', 'ReIniting', 'All'] }),
    SnapshotId: p.str({ maxLength: 64 }),
    DiskName: p.str({ maxLength: 128 }),
    ...listParams,
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const filter = {
      region: region.id,
      owner: accountId,
      ids: jsonIds(params.DiskIds, 'InvalidDiskIds.Malformed'),
      instanceId: params.InstanceId,
      type: params.DiskType === 'all' ? undefined : params.DiskType,
      category: params.Category === 'all' ? undefined : params.Category,
      status: params.Status === 'All' ? undefined : params.Status,
      snapshotId: params.SnapshotId,
      zoneId: params.ZoneId,
      name: params.DiskName,
      tags: tagFilters(params.Tag),
    };
    const pg = paging(pageRequest(params));
    if (params.DryRun) throw apiError('DryRunOperation');
    const page = await describeDisks(services, filter, pg);
    return { ...pageResponse(page), Disks: { Disk: page.items.map(diskToWire) } };
  },
});
