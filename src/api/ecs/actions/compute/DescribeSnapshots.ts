import { defineAction } from '../../action.ts';
import { creationTimeFilter, p, regionParam } from '../../params.ts';
import { apiError } from '../../../../domain/errors.ts';
import { describeSnapshots, type SnapshotFilter } from '../../../../services/snapshots/describe.ts';
import { snapshotToWire } from '../../views/snapshot.ts';
import { listParams, listResponse, ownedScope } from './params.ts';

function applyFilters(filter: SnapshotFilter, filters: { Key?: string; Value?: string }[]): void {
  for (const { Key, Value } of filters) {
    if (Key && !creationTimeFilter(filter, Key, Value)) throw apiError('InvalidFilterKey.NotFound');
  }
}

export default defineAction({
  name: 'DescribeSnapshots',
  readOnly: true,
  schema: {
    ...regionParam,
    SnapshotIds: p.str({ maxLength: 16384 }),
    DiskId: p.str({ maxLength: 64 }),
    /** Not an Alibaba parameter: an alias of DiskId (the snapshot's source disk). */
    SourceDiskId: p.str({ maxLength: 64 }),
    InstanceId: p.str({ maxLength: 64 }),
    SnapshotName: p.str({ maxLength: 256 }),
    Status: p.str({ enum: ['progressing', 'accomplished', 'failed', 'all'], invalid: 'InvalidStatus.NotFound' }),
    SnapshotType: p.str({ enum: ['auto', 'user', 'all'], invalid: 'InvalidSnapshotType.NotFound' }),
    SourceDiskType: p.str({ enum: ['system', 'data'], caseInsensitive: true, invalid: 'InvalidSourceDiskType' }),
    Usage: p.str({ enum: ['image', 'disk', 'image_disk', 'none'], invalid: 'InvalidUsage' }),
    Encrypted: p.bool(),
    Filter: p.structs({ Key: p.str({ maxLength: 64 }), Value: p.str({ maxLength: 256 }) }, { max: 20 }),
    ...listParams,
  },
  async run({ services, accountId }, params) {
    const filter: SnapshotFilter = {
      ...ownedScope(services, accountId, params, params.SnapshotIds, 'InvalidSnapshotIds.Malformed'),
      diskId: params.DiskId ?? params.SourceDiskId,
      instanceId: params.InstanceId,
      name: params.SnapshotName,
      statuses: params.Status && params.Status !== 'all' ? [params.Status] : undefined,
      snapshotType: params.SnapshotType === 'all' ? undefined : params.SnapshotType,
      sourceDiskType: params.SourceDiskType,
      usage: params.Usage,
      encrypted: params.Encrypted,
    };
    applyFilters(filter, params.Filter);
    return listResponse(params, (pg) => describeSnapshots(services, filter, pg), (items) => ({ Snapshots: { Snapshot: items.map(snapshotToWire) } }));
  },
});
