import type { ImageView } from '../../../services/images/describe.ts';
import { isoSeconds } from './time.ts';
import { tagsToWire } from './tags.ts';

/** An image as DescribeImages and DescribeImageFromFamily show it. */
export function imageToWire(v: ImageView, subscribed = false): Record<string, unknown> {
  const r = v.row;
  return {
    ImageId: r.id,
    ImageName: r.name,
    ImageFamily: r.family,
    ImageVersion: r.version,
    Description: r.description,
    ImageOwnerAlias: v.alias,
    ImageOwnerId: Number(r.owner_id),
    OSName: r.os_name,
    OSNameEn: r.os_name_en,
    OSType: r.os_type,
    Platform: r.platform,
    Architecture: r.architecture,
    BootMode: r.boot_mode,
    Size: r.size_gib,
    Status: r.status,
    Progress: `${r.progress}%`,
    CreationTime: isoSeconds(r.created_at),
    Usage: v.inUse ? 'instance' : 'none',
    IsSupportCloudinit: r.is_support_cloudinit === 1,
    IsSupportIoOptimized: r.is_support_io_optimized === 1,
    IsCopied: r.is_copied === 1,
    IsPublic: r.is_public === 1,
    IsSelfShared: String(v.isSelfShared),
    IsSubscribed: subscribed && r.product_code !== '',
    ProductCode: r.product_code,
    LicenseType: r.license_type,
    LoginAsNonRootSupported: false,
    ResourceGroupId: '',
    SupplierName: '',
    Features: { NvmeSupport: r.nvme_support, ImdsSupport: r.imds_support },
    DiskDeviceMappings: {
      DiskDeviceMapping: v.disks.map((d) => ({
        Device: d.device,
        Type: d.type,
        Size: String(d.size_gib),
        SnapshotId: d.snapshot_id,
        Format: d.format,
        ImportOSSBucket: d.import_bucket,
        ImportOSSObject: d.import_object,
        Progress: `${d.progress}%`,
        Encrypted: r.encrypted === 1,
      })),
    },
    Tags: tagsToWire(v.tags),
  };
}
