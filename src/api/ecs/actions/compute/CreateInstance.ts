import { defineAction } from '../../action.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { launchInstances } from '../../../../services/compute/instances.ts';
import { launchInput, launchSchema } from './launch.ts';

/** One instance, left Stopped. */
export default defineAction({
  name: 'CreateInstance',
  schema: launchSchema,
  async run({ services, accountId }, params) {
    const key = { accountId, action: 'CreateInstance', token: params.ClientToken, params };
    return withClientToken(services, key, async () => {
      const [id] = await launchInstances(services, launchInput(params, accountId, 1, 'Stopped'));
      return { InstanceId: id };
    });
  },
});
