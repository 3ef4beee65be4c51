import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { cancelCopy } from '../../../../services/images/copy.ts';

export default defineAction({
  name: 'CancelCopyImage',
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
  },
  async run({ services, accountId }, params) {
    await cancelCopy(services, { region: params.RegionId, imageId: params.ImageId, caller: accountId });
    return {};
  },
});
