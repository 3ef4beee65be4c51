/** Naming and validation rules for images, as Alibaba ECS applies them. */
import { apiError } from './errors.ts';
import { hasControlCharacter } from './text.ts';

const NAME_CHARS = /^[A-Za-z\u4e00-\u9fa5][A-Za-z0-9\u4e00-\u9fa5.:_-]*$/;

function nameLike(value: string): boolean {
  const lower = value.toLowerCase();
  return (
    value.length >= 2 && value.length <= 128 && NAME_CHARS.test(value) &&
    !lower.startsWith('aliyun') && !lower.startsWith('acs:') && !/https?:\/\//i.test(value)
  );
}

export function checkImageName(name: string): void {
  if (!nameLike(name)) throw apiError('InvalidImageName.Malformed');
}

/** Custom families follow the name rules; `acs:` families are reserved for public images. */
export function checkImageFamily(family: string): void {
  if (!nameLike(family)) throw apiError('InvalidImageFamily.Malformed');
}

export function checkDescription(description: string): void {
  if (description.length < 2 || description.length > 256 || /^https?:\/\//i.test(description) || hasControlCharacter(description)) {
    throw apiError('InvalidDescription.Malformed');
  }
}

export interface Tag {
  key: string;
  value: string;
}

/** Tags on a resource: ≤ 20, keys unique case-insensitively, no reserved prefixes. */
export function checkTags(tags: { Key?: string; Value?: string }[]): Tag[] {
  if (tags.length > 20) throw apiError('InvalidTagCount');
  const seen = new Set<string>();
  return tags.map(({ Key, Value }) => {
    const key = Key ?? '';
    const value = Value ?? '';
    const lk = key.toLowerCase();
    if (!key || key.length > 128 || lk.startsWith('aliyun') || lk.startsWith('acs:') || /https?:\/\//i.test(key) || hasControlCharacter(key)) {
      throw apiError('InvalidTagKey.Malformed');
    }
    if (value.length > 128 || value.toLowerCase().startsWith('acs:') || /https?:\/\//i.test(value) || hasControlCharacter(value)) throw apiError('InvalidTagValue.Malformed');
    if (seen.has(lk)) throw apiError('Duplicate.TagKey');
    seen.add(lk);
    return { key, value };
  });
}

export const IMAGE_STATUSES = ['Creating', 'Waiting', 'Available', 'UnAvailable', 'CreateFailed', 'Deprecated'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];
export const OWNER_ALIASES = ['system', 'self', 'others', 'marketplace'] as const;
export type OwnerAlias = (typeof OWNER_ALIASES)[number];
export const ARCHITECTURES = ['i386', 'x86_64', 'arm64'] as const;
export const OS_TYPES = ['windows', 'linux'] as const;
export const BOOT_MODES = ['BIOS', 'UEFI', 'UEFI-Preferred'] as const;
/** What a public catalog entry may be: the catalog has no images in flight. */
export const CATALOG_STATUSES = ['Available', 'Deprecated'] as const satisfies readonly ImageStatus[];
/** DescribeImages' `Usage`: launched by an instance or not. */
export const USAGES = ['instance', 'none'] as const;
/** Licence classes the price catalog charges by (`none` is free). */
export const LICENSE_CLASSES = ['windows', 'rhel', 'suse', 'none'] as const;
/** Largest disk an image holds, in GiB (imports, catalog entries). */
export const MAX_DISK_GIB = 2048;

/** Queries by tags (IMS, TMS style): 10 tags per list, 10 values per tag, at most 1000 resources per page. */
export const TAG_QUERY_LIMITS = { tags: 10, values: 10, page: 1000 } as const;
