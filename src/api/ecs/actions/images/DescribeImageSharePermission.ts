import { defineAction } from '../../action.ts';
import { p, page, pageParams, regionParam } from '../../params.ts';
import { describeSharePermission } from '../../../../services/images/share.ts';
import { isoSeconds } from '../../views/time.ts';

export default defineAction({
  name: 'DescribeImageSharePermission',
  readOnly: true,
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
    ...pageParams,
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const pg = page(params);
    const r = await describeSharePermission(services, { region: region.id, imageId: params.ImageId, owner: accountId, offset: pg.offset, limit: pg.pageSize });
    return {
      RegionId: region.id,
      ImageId: params.ImageId,
      TotalCount: r.total,
      PageNumber: pg.pageNumber,
      PageSize: pg.pageSize,
      Accounts: { Account: r.accounts.map((a) => ({ AliyunId: a.accountId, SharedTime: isoSeconds(a.sharedAt) })) },
      ShareGroups: { ShareGroup: r.isPublic ? [{ Group: 'all' }] : [] },
    };
  },
});
