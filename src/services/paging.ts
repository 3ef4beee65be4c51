/**
 * Paging for DescribeInstances, DescribeDisks and DescribeSnapshots: NextToken + MaxResults (keyset on
 * newest-first `created_at, id`, stable while rows are added) or the older PageNumber + PageSize.
 */
import { sql, type SelectQueryBuilder, type SqlBool, type RawBuilder } from 'kysely';
import { apiError } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';

export interface PageRequest {
  nextToken?: string;
  maxResults?: number;
  pageNumber?: number;
  pageSize?: number;
}

export interface Paging {
  limit: number;
  offset: number;
  pageNumber: number;
  /** The last row of the previous page (token mode). */
  after?: { createdAt: number; id: string };
}

export interface Page<T> {
  items: T[];
  total: number;
  /** Empty on the last page. */
  nextToken: string;
  pageNumber: number;
  pageSize: number;
}

function decodeToken(token: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(createdAt) && typeof id === 'string' && id.length <= 128) return { createdAt: createdAt as number, id };
  } catch { /* fall through */ }
  throw apiError('InvalidParameter', 'NextToken');
}

function encodeToken(row: { created_at: number; id: string }): string {
  return Buffer.from(JSON.stringify([Number(row.created_at), row.id])).toString('base64url');
}

/** `minMaxResults`: DescribeInstances raises MaxResults below 10 to 10; every action caps it at 100. */
export function paging(req: PageRequest, minMaxResults = 1): Paging {
  if (req.nextToken !== undefined || req.maxResults !== undefined) {
    const limit = Math.min(100, Math.max(minMaxResults, req.maxResults ?? 10));
    return { limit, offset: 0, pageNumber: 1, after: req.nextToken ? decodeToken(req.nextToken) : undefined };
  }
  const pageSize = req.pageSize ?? 10;
  const pageNumber = req.pageNumber ?? 1;
  return { limit: pageSize, offset: (pageNumber - 1) * pageSize, pageNumber };
}

/** Rows after the token's row in newest-first order (the query must have one table with `created_at`, `id`). */
export function afterKey(p: Paging): RawBuilder<SqlBool> | undefined {
  const a = p.after;
  return a ? sql<SqlBool>`(created_at < ${a.createdAt} or (created_at = ${a.createdAt} and id < ${a.id}))` : undefined;
}

/** Finishes a page fetched with `limit + 1` rows: the extra row only tells that there is a next page. */
export function pageOf<R extends { created_at: number; id: string }>(rows: R[], p: Paging, total: number): Page<R> {
  const items = rows.slice(0, p.limit);
  const more = rows.length > p.limit;
  return { items, total, nextToken: more ? encodeToken(items[items.length - 1]) : '', pageNumber: p.pageNumber, pageSize: p.limit };
}

/** Resource tables listed newest first by `created_at, id`. */
type Listed = 'instances' | 'disks' | 'snapshots';

/**
 * One page of a filtered listing: the total, then the page's rows after the cursor, newest first. `filtered`
 * builds the same filtered query twice (counting and fetching).
 */
export async function newestFirstPage<T extends Listed>(filtered: () => SelectQueryBuilder<Database, T, object>, p: Paging): Promise<Page<Database[T]>> {
  // Kysely cannot type a query over a generic table name, so the two statements are typed by hand.
  const q = filtered() as unknown as SelectQueryBuilder<Database, Listed, object>;
  const [{ n }] = await q.select((eb) => eb.fn.countAll<number>().as('n')).execute();
  let rows = q.selectAll();
  const after = afterKey(p);
  if (after) rows = rows.where(after);
  const fetched = await rows.orderBy('created_at', 'desc').orderBy('id', 'desc').offset(p.offset).limit(p.limit + 1).execute();
  return pageOf(fetched as unknown as Database[T][], p, Number(n));
}
