/** Types of the seeded catalog entries; field names are the ECS API's (PascalCase). */

export type OSType = 'linux' | 'windows';
export type Architecture = 'x86_64' | 'arm64' | 'i386';
export type BootMode = 'BIOS' | 'UEFI' | 'UEFI-Preferred';
export type PublicImageStatus = 'Available' | 'Deprecated';
export type ImageUsage = 'instance' | 'none';
/** Which OS licence a public image carries; billing charges `windows` and `rhel` (and `suse`) by instance spec. */
export type LicenseClass = 'windows' | 'rhel' | 'suse' | 'none';
export type CpuArchitecture = 'X86' | 'ARM';
export type RegionStatus = 'available' | 'soldOut';
/** `"all"` = every configured region; otherwise the region IDs where the entry exists. */
export type RegionScope = 'all' | string[];
export type CatalogFile = string | URL;

export interface DiskDeviceMapping {
  Device: string;
  /** GiB, as a decimal string: the wire type of `DiskDeviceMapping.Size`. */
  Size: string;
  Type: 'system' | 'data';
}

export interface PublicImage {
  ImageId: string;
  ImageName: string;
  ImageFamily: string;
  ImageVersion: string;
  Description: string;
  OSName: string;
  OSNameEn: string;
  OSType: OSType;
  Platform: string;
  Architecture: Architecture;
  BootMode: BootMode;
  IsSupportCloudinit: boolean;
  IsSupportIoOptimized: boolean;
  /** GiB. */
  Size: number;
  Usage: ImageUsage;
  ImageOwnerAlias: 'system';
  Status: PublicImageStatus;
  /** `YYYY-MM-DDTHH:mm:ssZ`. */
  CreationTime: string;
  DiskDeviceMappings: DiskDeviceMapping[];
  LicenseClass: LicenseClass;
  Regions: RegionScope;
}

export interface InstanceType {
  InstanceTypeId: string;
  InstanceTypeFamily: string;
  CpuCoreCount: number;
  /** GiB. */
  MemorySize: number;
  CpuArchitecture: CpuArchitecture;
  Regions: RegionScope;
}

export interface RegionInfo {
  RegionId: string;
  /** Localised names keyed by AcceptLanguage (`zh-CN` and `en-US` always present; `zh-TW`, `ja` …). */
  LocalName: Record<string, string>;
  RegionEndpoint: string;
  /** Three lower-case alphanumerics placed after the ID prefix, e.g. `bp1` in `m-bp1…`. */
  IdInfix: string;
  Status: RegionStatus;
  Zones: string[];
}

export class CatalogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogError';
  }
}
