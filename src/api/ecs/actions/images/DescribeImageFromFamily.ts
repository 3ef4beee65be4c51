import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { newestOfFamily } from '../../../../services/images/describe.ts';
import { imageToWire } from '../../views/image.ts';

export default defineAction({
  name: 'DescribeImageFromFamily',
  readOnly: true,
  schema: {
    ...regionParam,
    ImageFamily: p.str({ required: true, maxLength: 128 }),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const image = await newestOfFamily(services, region.id, params.ImageFamily, accountId);
    if (!image) return { Image: {} };
    return { Image: imageToWire(image) };
  },
});
