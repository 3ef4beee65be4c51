/**
 * The permission rule (design.md): an account sees system images, Marketplace images, its own images and
 * images shared with it in the same region; it may change only its own.
 */
import type { ExpressionBuilder, Expression, SqlBool } from 'kysely';
import type { Database, ImageRow } from '../../store/schema.ts';
import type { OwnerAlias } from '../../domain/image-rules.ts';

type EB = ExpressionBuilder<Database & { i: ImageRow }, 'i'>;

export function sharedWith(eb: EB, viewer: string): Expression<SqlBool> {
  return eb.exists(
    eb.selectFrom('image_shares as s').select('s.image_id').whereRef('s.image_id', '=', 'i.id').where('s.account_id', '=', viewer),
  );
}

/** Rows an alias selects for `viewer`; `undefined` = the default set (system + self + others). */
export function aliasCondition(eb: EB, viewer: string, alias: OwnerAlias | undefined, includePublic: boolean): Expression<SqlBool> {
  const system = eb('i.category', '=', 'system');
  const self = eb.and([eb('i.owner_id', '=', viewer), eb('i.category', '=', 'self')]);
  const othersShared = eb.and([eb('i.category', '=', 'self'), eb('i.owner_id', '!=', viewer), sharedWith(eb, viewer)]);
  const others = includePublic
    ? eb.and([eb('i.category', '=', 'self'), eb('i.owner_id', '!=', viewer), eb('i.is_public', '=', 1)])
    : othersShared;
  switch (alias) {
    case 'system': return system;
    case 'self': return self;
    case 'others': return others;
    case 'marketplace': return eb('i.category', '=', 'marketplace');
    default: return eb.or([system, self, othersShared]);
  }
}

/** Everything the viewer may see or launch from (used by lookups by ID). */
export function visibleTo(eb: EB, viewer: string): Expression<SqlBool> {
  return eb.or([
    eb('i.category', 'in', ['system', 'marketplace']),
    eb('i.owner_id', '=', viewer),
    eb.and([eb('i.category', '=', 'self'), eb.or([sharedWith(eb, viewer), eb('i.is_public', '=', 1)])]),
  ]);
}

export function ownerAliasFor(row: Pick<ImageRow, 'category' | 'owner_id'>, viewer: string): OwnerAlias {
  if (row.category === 'system') return 'system';
  if (row.category === 'marketplace') return 'marketplace';
  return row.owner_id === viewer ? 'self' : 'others';
}
