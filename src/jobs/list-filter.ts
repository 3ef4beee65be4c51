import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import { noRows } from '../store/conditions.ts';
import type { Database } from '../store/schema.ts';

/**
 * What DescribeTasks can filter on. Empty id, kind and resource lists are treated as "no filter"; an empty
 * `states` list matches nothing (a status no state maps to). Created times are inclusive epoch ms.
 */
export interface JobListFilter {
  accountId: string;
  region: string;
  ids?: readonly string[];
  kinds?: readonly string[];
  /** Kinds left out (another API surface's jobs). */
  hiddenKinds?: readonly string[];
  states?: readonly string[];
  resourceIds?: readonly string[];
  createdFrom?: number;
  createdTo?: number;
  offset?: number;
  limit?: number;
}

export function jobFilter(f: JobListFilter) {
  return (eb: ExpressionBuilder<Database, 'jobs'>): Expression<SqlBool> => {
    const conds: Expression<SqlBool>[] = [eb('account_id', '=', f.accountId), eb('region', '=', f.region)];
    if (f.ids?.length) conds.push(eb('id', 'in', f.ids));
    if (f.kinds?.length) conds.push(eb('kind', 'in', f.kinds));
    if (f.hiddenKinds?.length) conds.push(eb('kind', 'not in', f.hiddenKinds));
    if (f.states) conds.push(f.states.length ? eb('state', 'in', f.states) : noRows);
    if (f.resourceIds?.length) conds.push(eb('resource_id', 'in', f.resourceIds));
    if (f.createdFrom !== undefined) conds.push(eb('created_at', '>=', f.createdFrom));
    if (f.createdTo !== undefined) conds.push(eb('created_at', '<=', f.createdTo));
    return eb.and(conds);
  };
}
