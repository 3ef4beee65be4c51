import type { SnapshotView } from '../../../services/snapshots/describe.ts';
import { isoSeconds } from './time.ts';
import { tagsToWire } from './tags.ts';

/** A snapshot as DescribeSnapshots shows it. Its size is the bytes it holds that its disk's origin did not. */
export function snapshotToWire(v: SnapshotView): Record<string, unknown> {
  const r = v.row;
  return {
    SnapshotId: r.id,
    SnapshotName: r.name,
    Description: r.description,
    RegionId: r.region,
    SourceRegionId: r.source_region || r.region,
    SourceSnapshotId: r.source_snapshot_id,
    SourceDiskId: r.source_disk_id,
    SourceDiskSize: String(r.source_disk_size_gib),
    SourceDiskType: r.source_disk_type,
    SourceStorageType: 'disk',
    SnapshotType: r.snapshot_type,
    Category: 'standard',
    Status: r.status,
    Progress: `${r.progress}%`,
    Available: r.status === 'accomplished',
    Usage: v.usage,
    FullSnapshotSizeInBytes: r.unique_bytes,
    Encrypted: false,
    KMSKeyId: '',
    ProductCode: '',
    InstantAccess: false,
    RetentionDays: r.retention_days,
    SnapshotSN: r.id.slice(2),
    CreationTime: isoSeconds(r.created_at),
    LastModifiedTime: isoSeconds(r.updated_at),
    Tags: tagsToWire(v.tags),
  };
}
