import { defineAction } from '../../action.ts';
import { p, tagFilters } from '../../params.ts';
import { describeInstances } from '../../../../services/compute/describe.ts';
import { paging } from '../../../../services/paging.ts';
import { apiError } from '../../../../domain/errors.ts';
import { instanceToWire } from '../../views/instance.ts';
import { jsonIds, listParams, pageRequest, pageResponse } from './params.ts';

export default defineAction({
  name: 'DescribeInstances',
  schema: {
    RegionId: p.str({ required: true, maxLength: 64 }),
    InstanceIds: p.str({ maxLength: 16384 }),
    ImageId: p.str({ maxLength: 128 }),
    Status: p.str({ enum: ['Pending', 'Running', 'Starting', 'Stopping', 'Stopped'] }),
    InstanceName: p.str({ maxLength: 256 }),
    InstanceType: p.str({ maxLength: 64 }),
    ZoneId: p.str({ maxLength: 64 }),
    ...listParams,
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const filter = {
      region: region.id,
      owner: accountId,
      ids: jsonIds(params.InstanceIds, 'InvalidInstanceIds.Malformed'),
      imageId: params.ImageId,
      status: params.Status,
      name: params.InstanceName,
      instanceType: params.InstanceType,
      zoneId: params.ZoneId,
      tags: tagFilters(params.Tag),
    };
    const pg = paging(pageRequest(params), 10);
    if (params.DryRun) throw apiError('DryRunOperation');
    const page = await describeInstances(services, filter, pg);
    return { ...pageResponse(page), Instances: { Instance: page.items.map(instanceToWire) } };
  },
});
