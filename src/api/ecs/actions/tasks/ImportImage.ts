import { defineAction } from '../../action.ts';
import { p, tagParams } from '../../params.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { startImport } from '../../../../services/transfer/import.ts';
import { importAttributeParams } from './import-params.ts';

export default defineAction({
  name: 'ImportImage',
  schema: {
    ...importAttributeParams,
    DiskDeviceMapping: p.structs({
      OSSBucket: p.str({ maxLength: 64, invalid: 'InvalidOSSBucket.Malformed' }),
      OSSObject: p.str({ maxLength: 1024, invalid: 'InvalidOSSObject.Malformed' }),
      Format: p.str({ maxLength: 16, invalid: 'InvalidImageFormat.Malformed' }),
      DiskImageSize: p.int({ invalid: 'InvalidImageSize' }),
      DiskImSize: p.int({ invalid: 'InvalidImageSize' }),
      Device: p.str({ maxLength: 32 }),
    }, { max: 17 }),
    Features: p.object({
      ImdsSupport: p.str({ enum: ['v1', 'v2'], invalid: 'InvalidParameter.FeaturesImdsSupport' }),
      NvmeSupport: p.str({ enum: ['supported', 'unsupported'] }),
    }),
    ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
    DryRun: p.bool(),
    ...tagParams,
  },
  async run({ services, accountId }, params) {
    const start = () => startImport(services, {
      region: params.RegionId,
      owner: accountId,
      name: params.ImageName,
      description: params.Description,
      platform: params.Platform,
      osType: params.OSType,
      architecture: params.Architecture,
      bootMode: params.BootMode,
      licenseType: params.LicenseType,
      imdsSupport: params.Features.ImdsSupport,
      nvmeSupport: params.Features.NvmeSupport,
      tags: params.Tag,
      dryRun: params.DryRun,
      disks: params.DiskDeviceMapping.map((d) => ({
        bucket: d.OSSBucket,
        object: d.OSSObject,
        format: d.Format,
        diskImageSize: d.DiskImageSize ?? d.DiskImSize,
      })),
    });
    if (params.DryRun) return start();
    return withClientToken(services, { accountId, action: 'ImportImage', token: params.ClientToken, params }, start);
  },
});
