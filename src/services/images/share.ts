import { apiError } from '../../domain/errors.ts';
import { assertImageAllows, SHARE_LIMITS, shareLimitOf } from '../../domain/image-kinds.ts';
import { lockImageIn } from '../../store/locks.ts';
import { accountExists } from '../accounts.ts';
import { requireOwnImage } from './modify.ts';
import type { Services } from '../context.ts';

/** Alibaba's limit; images made through an IMS project have Huawei's (domain/image-kinds.ts). */
export const MAX_SHARES_PER_IMAGE = SHARE_LIMITS.alibaba;

/**
 * Shares or unshares an own custom image with accounts in its region (ModifyImageSharePermission).
 * Unsharing takes effect at once: visibility is computed from the share rows on every request.
 */
export async function modifySharePermission(services: Pick<Services, 'db' | 'clock'>, input: { region: string; imageId: string; owner: string; add: string[]; remove: string[]; isPublic?: boolean; dryRun?: boolean },
): Promise<void> {
  const { db } = services;
  const now = services.clock.now();
  const image = await requireOwnImage(services, input.region, input.imageId, input.owner);
  const add = [...new Set(input.add)];
  const remove = [...new Set(input.remove)];
  if (add.length || input.isPublic) {
    if (image.status === 'Deprecated') throw apiError('OperationDenied.InvalidImageStatus');
    if (image.status !== 'Available') throw apiError('IncorrectImageStatus');
    if (image.product_code) throw apiError('ImageNotSupported');
    assertImageAllows(image, 'share');
    if (image.encrypted) {
      if (input.isPublic) throw apiError('InvalidParameter.IsPublic');
      // Only a customer master key can be granted to others; the service key cannot.
      if (!image.kms_key_id) throw apiError('InvalidOperation.ServiceKeyEncryptedImageUnsupported');
      const { n } = await db.selectFrom('image_disks').select((eb) => eb.fn.countAll<number>().as('n')).where('image_id', '=', image.id).executeTakeFirstOrThrow();
      if (Number(n) > 1) throw apiError('OperationDeined.FullImage');
    }
  }
  for (const id of add) {
    if (id === input.owner) throw apiError('InvalidAccount.Forbbiden');
    if (!/^\d{1,20}$/.test(id) || !(await accountExists(services, id))) throw apiError('InvalidAccount.NotFound', id);
  }
  for (const id of remove) {
    if (!/^\d{1,20}$/.test(id) || !(await accountExists(services, id))) throw apiError('InvalidAccount.NotFound', id);
  }
  await db.transaction().execute(async (trx) => {
    // Two calls at once (on any nodes) must not both pass the cap: the image's row lock orders them.
    await lockImageIn(trx, image.id);
    const current = new Set((await trx.selectFrom('image_shares').select('account_id').where('image_id', '=', image.id).execute()).map((r) => r.account_id));
    const after = new Set(current);
    for (const id of add) after.add(id);
    for (const id of remove) after.delete(id);
    if (after.size > shareLimitOf(image) && after.size > current.size) throw apiError('QuotaExceed.ShareImageUser');
    if (input.dryRun) throw apiError('DryRunOperation');
    const fresh = add.filter((id) => !current.has(id) && !remove.includes(id));
    if (fresh.length) await trx.insertInto('image_shares').values(fresh.map((account_id) => ({ image_id: image.id, account_id, created_at: now }))).execute();
    if (remove.length) await trx.deleteFrom('image_shares').where('image_id', '=', image.id).where('account_id', 'in', remove).execute();
    if (input.isPublic !== undefined) {
      await trx.updateTable('images').set({ is_public: input.isPublic ? 1 : 0, updated_at: now }).where('region', '=', image.region).where('id', '=', image.id).execute();
    }
  });
}

export async function describeSharePermission(services: Pick<Services, 'db'>, input: { region: string; imageId: string; owner: string; offset: number; limit: number },
): Promise<{ total: number; accounts: { accountId: string; sharedAt: number }[]; isPublic: boolean }> {
  const { db } = services;
  const image = await requireOwnImage(services, input.region, input.imageId, input.owner);
  const [{ n }] = await db.selectFrom('image_shares').select((eb) => eb.fn.countAll<number>().as('n')).where('image_id', '=', image.id).execute();
  const rows = await db.selectFrom('image_shares').select(['account_id', 'created_at']).where('image_id', '=', image.id)
    .orderBy('created_at').orderBy('account_id').offset(input.offset).limit(input.limit).execute();
  return { total: Number(n), accounts: rows.map((r) => ({ accountId: r.account_id, sharedAt: r.created_at })), isPublic: image.is_public === 1 };
}
