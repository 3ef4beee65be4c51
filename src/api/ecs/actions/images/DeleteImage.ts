import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { deleteImage } from '../../../../services/images/delete.ts';

export default defineAction({
  name: 'DeleteImage',
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
    Force: p.bool(),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    await deleteImage(services, {
      region: region.id,
      imageId: params.ImageId,
      owner: accountId,
      force: params.Force ?? false,
      dryRun: params.DryRun,
    });
    return {};
  },
});
