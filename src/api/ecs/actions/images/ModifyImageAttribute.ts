import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { BOOT_MODES } from '../../../../domain/image-rules.ts';
import { modifyImageAttribute } from '../../../../services/images/modify.ts';

export default defineAction({
  name: 'ModifyImageAttribute',
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
    ImageName: p.str({ maxLength: 256, invalid: 'InvalidImageName.Malformed' }),
    Description: p.str({ maxLength: 1024, invalid: 'InvalidDescription.Malformed' }),
    ImageFamily: p.str({ maxLength: 256, invalid: 'InvalidImageFamily.Malformed' }),
    BootMode: p.str({ enum: BOOT_MODES, invalid: 'InvalidBootMode.NotSupport' }),
    LicenseType: p.str({ maxLength: 32, invalid: 'InvalidLicenseType.NotSupported' }),
    Status: p.str({ enum: ['Available', 'Deprecated'] }),
    Features: p.object({
      ImdsSupport: p.str({ enum: ['v1', 'v2'], invalid: 'InvalidParameter.FeaturesImdsSupport' }),
      NvmeSupport: p.str({ enum: ['supported', 'unsupported'] }),
    }),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    await modifyImageAttribute(services, {
      region: region.id,
      imageId: params.ImageId,
      owner: accountId,
      dryRun: params.DryRun,
      change: {
        name: params.ImageName,
        description: params.Description,
        family: params.ImageFamily,
        bootMode: params.BootMode,
        licenseType: params.LicenseType,
        imdsSupport: params.Features.ImdsSupport,
        nvmeSupport: params.Features.NvmeSupport,
        status: params.Status as 'Available' | 'Deprecated' | undefined,
      },
    });
    return {};
  },
});
