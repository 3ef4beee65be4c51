/** Image attributes ImportImage and the direct upload (`POST /images/import`, the console's import) share. */
import { p, regionParam, type Params } from '../../params.ts';
import type { DirectImportInput } from '../../../../services/transfer/upload.ts';

export const importAttributeParams = {
  ...regionParam,
  ImageName: p.str({ maxLength: 256, invalid: 'InvalidImageName.Malformed' }),
  Description: p.str({ maxLength: 1024, invalid: 'InvalidDescription.Malformed' }),
  Platform: p.str({ maxLength: 64, invalid: 'InvalidPlatform.Malformed' }),
  OSType: p.str({ enum: ['linux', 'windows'], caseInsensitive: true, invalid: 'InvalidOSType.Malformed' }),
  Architecture: p.str({ maxLength: 16, invalid: 'InvalidArchitecture.Malformed' }),
  BootMode: p.str({ maxLength: 32, invalid: 'InvalidBootMode.Malformed' }),
  LicenseType: p.str({ maxLength: 32, invalid: 'InvalidLicenseType.NotSupported' }),
} as const;

/** The query of a direct upload: the attributes plus the one disk's format and size. */
export const directImportParams = {
  ...importAttributeParams,
  Format: p.str({ maxLength: 16, invalid: 'InvalidImageFormat.Malformed' }),
  DiskImageSize: p.int({ invalid: 'InvalidImageSize' }),
} as const;

/** The direct-import use case's input from its validated query. */
export function directImportInput(q: Params<typeof directImportParams>, owner: string): DirectImportInput {
  return {
    region: q.RegionId, owner, name: q.ImageName, description: q.Description, platform: q.Platform, osType: q.OSType,
    architecture: q.Architecture, bootMode: q.BootMode, licenseType: q.LicenseType, format: q.Format, diskImageSize: q.DiskImageSize,
  };
}
