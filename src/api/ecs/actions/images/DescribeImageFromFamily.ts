import { defineAction } from '../../action.ts';
import { p, regionParam } from '../../params.ts';
import { newestOfFamily } from '../../../../services/images/describe.ts';
import { imageToWire } from '../../views/image.ts';
import { imagesInUse } from '../../../../services/images/in-use.ts';

export default defineAction({
  name: 'DescribeImageFromFamily',
  schema: {
    ...regionParam,
    ImageFamily: p.str({ required: true, maxLength: 128 }),
  },
  async run({ services, accountId }, params) {
    const region = services.regions.require(params.RegionId);
    const image = await newestOfFamily(services, region.id, params.ImageFamily, accountId);
    if (!image) return { Image: {} };
    const used = await imagesInUse(services, region.id, [image.row.id]);
    return { Image: imageToWire(image, used.has(image.row.id)) };
  },
});
