/**
 * Glance members: pending and rejected ones are `glance_members` rows; an accepted member is an ECS share
 * (`image_shares`), so it sees the image through DescribeImages too, and an ECS share shows as accepted.
 * The limit is the image's (domain/image-kinds.ts: 128 for IMS-made images, 50 otherwise), counted over every member.
 */
import { apiError } from '../../domain/errors.ts';
import { lockImageIn } from '../../store/locks.ts';
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { assertImageAllows, shareLimitOf } from '../../domain/image-kinds.ts';
import { accountExists } from '../accounts.ts';
import { getImage } from './images.ts';

export interface Member {
  image_id: string;
  member_id: string;
  status: 'pending' | 'accepted' | 'rejected';
  created_at: number;
  updated_at: number;
}

export async function listMembers(services: Services, viewer: Identity, imageId: string): Promise<Member[]> {
  const img = await getImage(services, viewer, imageId);
  if (img.visibility !== 'shared') throw apiError('OpenStack.Forbidden', 'Only shared images have members.');
  const [shares, others] = await Promise.all([
    services.db.selectFrom('image_shares').selectAll().where('image_id', '=', imageId).execute(),
    services.db.selectFrom('glance_members').selectAll().where('image_id', '=', imageId).execute(),
  ]);
  const all: Member[] = [
    ...shares.map((s) => ({ image_id: imageId, member_id: s.account_id, status: 'accepted' as const, created_at: Number(s.created_at), updated_at: Number(s.created_at) })),
    ...others.map((m) => ({ image_id: imageId, member_id: m.member_id, status: m.status as Member['status'], created_at: Number(m.created_at), updated_at: Number(m.updated_at) })),
  ];
  // A member sees only itself; the owner sees everyone.
  return img.owner === viewer.id || viewer.isAdmin ? all : all.filter((m) => m.member_id === viewer.id);
}

export async function getMember(services: Services, viewer: Identity, imageId: string, memberId: string): Promise<Member> {
  const m = (await listMembers(services, viewer, imageId)).find((x) => x.member_id === memberId);
  if (!m) throw apiError('OpenStack.NotFound', `Member ${memberId} not found`);
  return m;
}

export async function addMember(services: Services, viewer: Identity, imageId: string, memberId: unknown): Promise<Member> {
  const img = await getImage(services, viewer, imageId);
  if (img.owner !== viewer.id) throw apiError('OpenStack.Forbidden', 'Only the image owner may add members.');
  if (img.visibility !== 'shared') throw apiError('OpenStack.Forbidden', `Image members can not be created for image with visibility ${img.visibility}.`);
  if (typeof memberId !== 'string' || memberId === '') throw apiError('OpenStack.BadRequest', 'Member to be added not specified');
  if (memberId === img.owner) throw apiError('OpenStack.BadRequest', 'The owner cannot be a member of the image.');
  assertImageAllows(img.row, 'share');
  if (!(/^\d{1,20}$/.test(memberId) && (await accountExists(services, memberId)))) throw apiError('OpenStack.BadRequest', `Project ${memberId} does not exist.`);
  const now = services.clock.now();
  await services.db.transaction().execute(async (trx) => {
    // The cap holds under concurrent calls on any nodes: the image's row lock orders them.
    await lockImageIn(trx, imageId);
    const shares = await trx.selectFrom('image_shares').select('account_id as member_id').where('image_id', '=', imageId).execute();
    const others = await trx.selectFrom('glance_members').select('member_id').where('image_id', '=', imageId).execute();
    const members = [...shares, ...others];
    if (members.some((m) => m.member_id === memberId)) throw apiError('OpenStack.Conflict', `Member ${memberId} already exists for image ${imageId}.`);
    const limit = shareLimitOf(img.row);
    if (members.length >= limit) throw apiError('OpenStack.RequestEntityTooLarge', `An image may have at most ${limit} members.`);
    await trx.insertInto('glance_members').values({ image_id: imageId, member_id: memberId, status: 'pending', created_at: now, updated_at: now }).execute();
  });
  return { image_id: imageId, member_id: memberId, status: 'pending', created_at: now, updated_at: now };
}

/** PUT …/members/{member}: only the member itself changes its status. Accepting makes it an ECS share. */
export async function updateMember(services: Services, viewer: Identity, imageId: string, memberId: string, status: unknown): Promise<Member> {
  if (!['pending', 'accepted', 'rejected'].includes(status as string)) throw apiError('OpenStack.BadRequest', `Invalid status ${String(status)}`);
  const current = await getMember(services, viewer, imageId, memberId);
  if (memberId !== viewer.id) throw apiError('OpenStack.Forbidden', 'Only the member may change its status.');
  const now = services.clock.now();
  await services.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('glance_members').where('image_id', '=', imageId).where('member_id', '=', memberId).execute();
    await trx.deleteFrom('image_shares').where('image_id', '=', imageId).where('account_id', '=', memberId).execute();
    if (status === 'accepted') await trx.insertInto('image_shares').values({ image_id: imageId, account_id: memberId, created_at: now }).execute();
    else await trx.insertInto('glance_members').values({ image_id: imageId, member_id: memberId, status: status as string, created_at: current.created_at, updated_at: now }).execute();
  });
  return { ...current, status: status as Member['status'], updated_at: now };
}

export async function removeMember(services: Services, viewer: Identity, imageId: string, memberId: string): Promise<void> {
  const img = await getImage(services, viewer, imageId);
  if (img.owner !== viewer.id && !viewer.isAdmin) throw apiError('OpenStack.Forbidden', 'Only the image owner may remove members.');
  await getMember(services, viewer, imageId, memberId);
  await services.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('glance_members').where('image_id', '=', imageId).where('member_id', '=', memberId).execute();
    await trx.deleteFrom('image_shares').where('image_id', '=', imageId).where('account_id', '=', memberId).execute();
  });
}
