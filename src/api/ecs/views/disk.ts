import type { DiskRow } from '../../../store/schema.ts';
import type { Tagged } from '../../../services/compute/describe.ts';
import { isoSeconds } from './time.ts';
import { tagsToWire } from './tags.ts';

/** A disk as DescribeDisks shows it. */
export function diskToWire(v: Tagged<DiskRow>): Record<string, unknown> {
  const r = v.row;
  return {
    DiskId: r.id,
    DiskName: r.name,
    Description: r.description ?? '',
    RegionId: r.region,
    ZoneId: r.zone,
    Type: r.type,
    Category: r.category,
    Size: r.size_gib,
    Status: r.status,
    InstanceId: r.instance_id,
    Device: r.instance_id ? r.device : '',
    ImageId: r.source_image_id,
    SourceSnapshotId: r.source_snapshot_id,
    DeleteWithInstance: r.delete_with_instance === 1,
    DeleteAutoSnapshot: true,
    EnableAutoSnapshot: false,
    Portable: r.type === 'data',
    Encrypted: false,
    DiskChargeType: 'PostPaid',
    PerformanceLevel: r.category === 'cloud_essd' ? 'PL1' : '',
    CreationTime: isoSeconds(r.created_at),
    AttachedTime: r.instance_id ? isoSeconds(r.created_at) : '',
    Attachments: { Attachment: r.instance_id ? [{ InstanceId: r.instance_id, Device: r.device, AttachedTime: isoSeconds(r.created_at) }] : [] },
    OperationLocks: { OperationLock: [] },
    Tags: tagsToWire(v.tags),
  };
}
