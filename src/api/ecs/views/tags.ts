import type { TagList } from '../../../services/tags.ts';

/** Tags as every Describe* shows them. */
export function tagsToWire(tags: TagList): { Tag: { TagKey: string; TagValue: string }[] } {
  return { Tag: tags.map((t) => ({ TagKey: t.key, TagValue: t.value })) };
}
