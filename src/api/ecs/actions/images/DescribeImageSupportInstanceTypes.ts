import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { apiError } from '../../../../domain/errors.ts';
import { isInRegion } from '../../../../domain/catalog/index.ts';
import { findVisibleImage } from '../../../../services/images/describe.ts';
import { typeRunsImage } from '../../../../services/images/instance-types.ts';

export default defineAction({
  name: 'DescribeImageSupportInstanceTypes',
  readOnly: true,
  schema: {
    ...regionParam,
    ImageId: p.str({ maxLength: 128 }),
    ActionType: p.str({ enum: ['CreateEcs', 'ChangeOS'] }),
    Filter: p.structs({ Key: p.str({ maxLength: 64 }), Value: p.str({ maxLength: 256 }) }, { max: 20 }),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    // `Filter.N` (imageId) is the deprecated spelling of ImageId.
    const imageId = params.ImageId ?? params.Filter.find((f) => f.Key === 'imageId')?.Value;
    if (!imageId) throw apiError('MissingParameter', 'ImageId');
    const image = await findVisibleImage(services, region.id, imageId, accountId);
    if (!image) throw apiError('InvalidImageId.NotFound');
    const types = services.instanceTypes.filter((t) => isInRegion(t, region.id) && typeRunsImage(t, image.row));
    return {
      RegionId: region.id,
      ImageId: imageId,
      InstanceTypes: {
        InstanceType: types.map((t) => ({ InstanceTypeId: t.InstanceTypeId, InstanceTypeFamily: t.InstanceTypeFamily, CpuCoreCount: t.CpuCoreCount, MemorySize: t.MemorySize })),
      },
    };
  },
});
