/**
 * The permission rule: an account sees system images, Marketplace images, its own images and
 * images shared with it in the same region; it may change only its own.
 */
import type { ExpressionBuilder, Expression, SqlBool } from 'kysely';
import type { Database, ImageRow } from '../../store/schema.ts';
import type { OwnerAlias } from '../../domain/image-rules.ts';

type EB = ExpressionBuilder<Database & { i: ImageRow }, 'i'>;

/** The viewing account: an ID, or a column naming each row's viewer (a batch of lookups: lookups.ts). */
export type Viewer = string | Expression<string>;

export function sharedWith(eb: EB, viewer: string): Expression<SqlBool> {
  return eb.exists(
    eb.selectFrom('image_shares as s').select('s.image_id').whereRef('s.image_id', '=', 'i.id').where('s.account_id', '=', viewer),
  );
}

/** `tally`: the `image_counts` rows (store/image-counts.ts) that count this part when no other filter applies. */
export type VisibilityPart = ((eb: EB) => Expression<SqlBool>) & { tally?: { category: string; ownerId?: string } };

const tallied = (part: VisibilityPart, tally: VisibilityPart['tally']): VisibilityPart => Object.assign(part, { tally });

/**
 * The disjoint row sets an alias selects for `viewer` (`undefined` = the default: system + self + shared).
 * Kept apart so that each part runs on its own index instead of one OR that scans the region.
 */
export function aliasParts(viewer: Viewer, alias: OwnerAlias | undefined, includePublic: boolean): VisibilityPart[] {
  const system = tallied((eb) => eb('i.category', '=', 'system'), { category: 'system' });
  const self = tallied((eb) => eb.and([eb('i.owner_id', '=', viewer), eb('i.category', '=', 'self')]), typeof viewer === 'string' ? { category: 'self', ownerId: viewer } : undefined);
  const shared: VisibilityPart = (eb) => eb.and([
    eb('i.id', 'in', eb.selectFrom('image_shares as s').select('s.image_id').where('s.account_id', '=', viewer)),
    eb('i.category', '=', 'self'),
    eb('i.owner_id', '!=', viewer),
  ]);
  const community: VisibilityPart = (eb) => eb.and([eb('i.category', '=', 'self'), eb('i.is_public', '=', 1), eb('i.owner_id', '!=', viewer)]);
  switch (alias) {
    case 'system': return [system];
    case 'self': return [self];
    case 'others': return [includePublic ? community : shared];
    case 'marketplace': return [tallied((eb) => eb('i.category', '=', 'marketplace'), { category: 'marketplace' })];
    default: return [system, self, shared];
  }
}

/** Rows any of `parts` shows, as one condition (for lookups whose own index finds the few rows first). */
export function anyOf(parts: VisibilityPart[]): VisibilityPart {
  return (eb) => eb.or(parts.map((part) => part(eb)));
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
