/** Parameters shared by the compute actions: JSON-array ID lists, token paging, tag filters and disk fields. */
import { apiError, type ErrorCode } from '../../../../domain/errors.ts';
import { p, pageParams, tagFilterParams, tagFilters } from '../../params.ts';
import { DISK_CATEGORIES, PERFORMANCE_LEVELS } from '../../../../services/compute/disk-rules.ts';
import { paging, type Page, type PageRequest, type Paging } from '../../../../services/paging.ts';
import type { Services } from '../../../../services/context.ts';

/** `["i-1","i-2"]` (≤ 100 IDs), as InstanceIds, DiskIds and SnapshotIds are sent. */
export function jsonIds(raw: string | undefined, code: ErrorCode): string[] | undefined {
  if (raw === undefined) return undefined;
  let ids: unknown;
  try {
    ids = JSON.parse(raw);
  } catch {
    throw apiError(code);
  }
  if (!Array.isArray(ids) || ids.length > 100 || !ids.every((x) => typeof x === 'string' && x.length <= 128)) throw apiError(code);
  return ids as string[];
}

export const listParams = {
  NextToken: p.str({ maxLength: 512 }),
  MaxResults: p.int({ min: 1, max: 500 }),
  ...pageParams,
  ...tagFilterParams,
  DryRun: p.bool(),
} as const;

type ListValues = { NextToken?: string; MaxResults?: number; PageNumber?: number; PageSize?: number; DryRun?: boolean; Tag: { Key?: string; Value?: string }[] };

function pageRequest(params: ListValues): PageRequest {
  return { nextToken: params.NextToken, maxResults: params.MaxResults, pageNumber: params.PageNumber, pageSize: params.PageSize };
}

/** What every owned-resource listing filters on first: the region, the caller, the JSON ID list and tags. */
export function ownedScope(services: Pick<Services, 'regions'>, owner: string, params: ListValues & { RegionId: string }, ids: string | undefined, idsError: ErrorCode) {
  return { region: services.regions.require(params.RegionId).id, owner, ids: jsonIds(ids, idsError), tags: tagFilters(params.Tag) };
}

/**
 * The common tail of the Describe* listings: paging, DryRun, and the page in the response shape.
 * `minMaxResults`: DescribeInstances raises MaxResults below 10 to 10.
 */
export async function listResponse<V>(
  params: ListValues,
  list: (pg: Paging) => Promise<Page<V>>,
  wrap: (items: V[]) => Record<string, unknown>,
  minMaxResults = 1,
): Promise<Record<string, unknown>> {
  const pg = paging(pageRequest(params), minMaxResults);
  if (params.DryRun) throw apiError('DryRunOperation');
  const page = await list(pg);
  return { ...pageResponse(page), ...wrap(page.items) };
}

function pageResponse(page: { total: number; nextToken: string; pageNumber: number; pageSize: number }) {
  return { TotalCount: page.total, NextToken: page.nextToken, PageNumber: page.pageNumber, PageSize: page.pageSize };
}

export const systemDiskParams = {
  Category: p.str({ enum: DISK_CATEGORIES, invalid: 'InvalidSystemDiskCategory.ValueNotSupported' }),
  Size: p.int({ min: 1, max: 1_000_000, invalid: 'InvalidSystemDiskSize.ValueNotSupported' }),
  PerformanceLevel: p.str({ enum: PERFORMANCE_LEVELS }),
  DiskName: p.str({ maxLength: 128, invalid: 'InvalidDiskName.Malformed' }),
} as const;

export const dataDiskParams = {
  Size: p.int({ min: 1, max: 1_000_000, invalid: 'InvalidDataDiskSize.ValueNotSupported' }),
  SnapshotId: p.str({ maxLength: 64 }),
  /** A data disk image to make the disk from (image kinds: only data disk images create disks). */
  ImageId: p.str({ maxLength: 64 }),
  Category: p.str({ enum: DISK_CATEGORIES, invalid: 'InvalidDataDiskCategory.ValueNotSupported' }),
  PerformanceLevel: p.str({ enum: PERFORMANCE_LEVELS }),
  DeleteWithInstance: p.bool(),
  Device: p.str({ maxLength: 32 }),
  DiskName: p.str({ maxLength: 128, invalid: 'InvalidDiskName.Malformed' }),
} as const;
