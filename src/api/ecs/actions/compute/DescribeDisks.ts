import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { describeDisks } from '../../../../services/compute/describe.ts';
import { DISK_CATEGORIES } from '../../../../services/compute/disk-rules.ts';
import { diskToWire } from '../../views/disk.ts';
import { listParams, listResponse, ownedScope } from './params.ts';

export default defineAction({
  name: 'DescribeDisks',
  readOnly: true,
  schema: {
    ...regionParam,
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
    const filter = {
      ...ownedScope(services, accountId, params, params.DiskIds, 'InvalidDiskIds.Malformed'),
      instanceId: params.InstanceId,
      type: params.DiskType === 'all' ? undefined : params.DiskType,
      category: params.Category === 'all' ? undefined : params.Category,
      status: params.Status === 'All' ? undefined : params.Status,
      snapshotId: params.SnapshotId,
      zoneId: params.ZoneId,
      name: params.DiskName,
    };
    return listResponse(params, (pg) => describeDisks(services, filter, pg), (items) => ({ Disks: { Disk: items.map(diskToWire) } }));
  },
});
