import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { launchInstances } from '../../../../services/compute/instances.ts';
import { launchInput, launchSchema } from './launch.ts';

export default defineAction({
  name: 'RunInstances',
  schema: { ...launchSchema, Amount: p.int({ min: 1, max: 100 }), MinAmount: p.int({ min: 1, max: 100 }) },
  async run({ services, accountId }, params) {
    const key = { accountId, action: 'RunInstances', token: params.ClientToken, params };
    return withClientToken(services, key, async () => {
      const ids = await launchInstances(services, launchInput(params, accountId, params.Amount ?? 1, 'Running'));
      return { InstanceIdSets: { InstanceIdSet: ids } };
    });
  },
});
