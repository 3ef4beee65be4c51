import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { startExport } from '../../../../services/transfer/export.ts';

export default defineAction({
  name: 'ExportImage',
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
    OSSBucket: p.str({ required: true, maxLength: 64, invalid: 'InvalidOSSBucket.Malformed' }),
    OSSPrefix: p.str({ maxLength: 30, invalid: 'InvalidOSSPrefix.Malformed' }),
    ImageFormat: p.str({ maxLength: 16, invalid: 'InvalidImageFormat.Malformed' }),
    RoleName: p.str({ maxLength: 128 }),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    return startExport(services, {
      region: params.RegionId,
      owner: accountId,
      imageId: params.ImageId,
      bucket: params.OSSBucket,
      prefix: params.OSSPrefix,
      format: params.ImageFormat,
      dryRun: params.DryRun,
    });
  },
});
