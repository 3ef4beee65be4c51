import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { describeInstances } from '../../../../services/compute/describe.ts';
import { instanceToWire } from '../../views/instance.ts';
import { listParams, listResponse, ownedScope } from './params.ts';

export default defineAction({
  name: 'DescribeInstances',
  readOnly: true,
  schema: {
    ...regionParam,
    InstanceIds: p.str({ maxLength: 16384 }),
    ImageId: p.str({ maxLength: 128 }),
    Status: p.str({ enum: ['Pending', 'Running', 'Starting', 'Stopping', 'Stopped'] }),
    InstanceName: p.str({ maxLength: 256 }),
    InstanceType: p.str({ maxLength: 64 }),
    ZoneId: p.str({ maxLength: 64 }),
    ...listParams,
  },
  async run({ services, accountId }, params) {
    const filter = {
      ...ownedScope(services, accountId, params, params.InstanceIds, 'InvalidInstanceIds.Malformed'),
      imageId: params.ImageId,
      status: params.Status,
      name: params.InstanceName,
      instanceType: params.InstanceType,
      zoneId: params.ZoneId,
    };
    return listResponse(params, (pg) => describeInstances(services, filter, pg), (items) => ({ Instances: { Instance: items.map(instanceToWire) } }), 10);
  },
});
