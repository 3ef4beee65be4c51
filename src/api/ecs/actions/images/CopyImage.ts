import { defineAction } from '../../action.ts';
import { p, regionParam, tagParams } from '../../params.ts';
import { checkTags } from '../../../../domain/image-rules.ts';
import { withClientToken } from '../../../../services/idempotency.ts';
import { copyImage } from '../../../../services/images/copy.ts';

export default defineAction({
  name: 'CopyImage',
  schema: {
    ...regionParam,
    ImageId: p.str({ required: true, maxLength: 128 }),
    DestinationRegionId: p.str({ maxLength: 64 }),
    DestinationImageName: p.str({ maxLength: 256, invalid: 'InvalidImageName.Malformed' }),
    DestinationDescription: p.str({ maxLength: 1024, invalid: 'InvalidDescription.Malformed' }),
    Encrypted: p.bool(),
    KMSKeyId: p.str({ maxLength: 128 }),
    EncryptAlgorithm: p.str({ maxLength: 32 }),
    ClientToken: p.str({ maxLength: 64, invalid: 'InvalidClientToken.Malformed' }),
    ResourceGroupId: p.str({ maxLength: 64 }),
    DryRun: p.bool(),
    ...tagParams,
  },
  async run({ services, accountId }, params) {
    const { imageId } = await withClientToken(services, { accountId, action: 'CopyImage', token: params.ClientToken, params }, () =>
      copyImage(services, {
        sourceRegion: params.RegionId, imageId: params.ImageId, caller: accountId, destinationRegion: params.DestinationRegionId,
        name: params.DestinationImageName, description: params.DestinationDescription, encrypted: params.Encrypted,
        kmsKeyId: params.KMSKeyId, tags: checkTags(params.Tag), dryRun: params.DryRun,
      }));
    return { ImageId: imageId };
  },
});
