import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { modifySharePermission } from '../../../../services/images/share.ts';

export default defineAction({
  name: 'ModifyImageSharePermission',
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
    // Alibaba takes N ≤ 10 per call and silently ignores the rest.
    AddAccount: p.list({ max: 10, maxLength: 32 }),
    RemoveAccount: p.list({ max: 10, maxLength: 32 }),
    IsPublic: p.bool(),
    LaunchPermission: p.str({ maxLength: 64 }),
    DryRun: p.bool(),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    await modifySharePermission(services, {
      region: region.id,
      imageId: params.ImageId,
      owner: accountId,
      add: params.AddAccount,
      remove: params.RemoveAccount,
      isPublic: params.IsPublic,
      dryRun: params.DryRun,
    });
    return {};
  },
});
