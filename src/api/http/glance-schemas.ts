/**
 * Glance v2's JSON schemas (`/v2/schemas/image|images|member|members`), served by the Glance surface and by
 * IMS at its own endpoint (the SDK's Glance*Schemas operations).
 */
import { CONTAINER_FORMATS, DISK_FORMATS } from '../../domain/glance-status.ts';

function schemaOfImage() {
  const s = (type: unknown, extra: Record<string, unknown> = {}) => ({ type, ...extra });
  return {
    name: 'image', additionalProperties: { type: 'string' },
    properties: {
      id: s('string', { pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$' }),
      name: s(['null', 'string'], { maxLength: 255 }), status: s('string', { enum: ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'], readOnly: true }),
      visibility: s('string', { enum: ['community', 'public', 'private', 'shared'] }), protected: s('boolean'), os_hidden: s('boolean'),
      checksum: s(['null', 'string'], { readOnly: true, maxLength: 32 }), os_hash_algo: s(['null', 'string'], { readOnly: true, maxLength: 64 }),
      os_hash_value: s(['null', 'string'], { readOnly: true, maxLength: 128 }), owner: s(['null', 'string'], { maxLength: 255 }),
      size: s(['null', 'integer'], { readOnly: true }), virtual_size: s(['null', 'integer'], { readOnly: true }),
      container_format: s(['null', 'string'], { enum: [null, ...CONTAINER_FORMATS] }), disk_format: s(['null', 'string'], { enum: [null, ...DISK_FORMATS] }),
      created_at: s('string', { readOnly: true }), updated_at: s('string', { readOnly: true }), tags: s('array', { items: { type: 'string', maxLength: 255 } }),
      direct_url: s('string', { readOnly: true }), min_ram: s('integer'), min_disk: s('integer'), self: s('string', { readOnly: true }),
      file: s('string', { readOnly: true }), stores: s('string', { readOnly: true }), schema: s('string', { readOnly: true }),
      locations: s('array', { items: { type: 'object' } }),
    },
    links: [{ rel: 'self', href: '{self}' }, { rel: 'enclosure', href: '{file}' }, { rel: 'describedby', href: '{schema}' }],
  };
}
function schemaOfMember() {
  return {
    name: 'member',
    properties: {
      created_at: { type: 'string' }, image_id: { type: 'string' }, member_id: { type: 'string' }, schema: { type: 'string', readOnly: true },
      status: { type: 'string', enum: ['pending', 'accepted', 'rejected'] }, updated_at: { type: 'string' },
    },
  };
}

export const GLANCE_SCHEMAS: Record<string, () => Record<string, unknown>> = {
  image: schemaOfImage,
  images: () => ({
    name: 'images', properties: { images: { type: 'array', items: schemaOfImage() }, schema: { type: 'string' }, first: { type: 'string' }, next: { type: 'string' } },
    links: [{ rel: 'first', href: '{first}' }, { rel: 'next', href: '{next}' }, { rel: 'describedby', href: '{schema}' }],
  }),
  member: schemaOfMember,
  members: () => ({
    name: 'members', properties: { members: { type: 'array', items: schemaOfMember() }, schema: { type: 'string' } }, links: [{ rel: 'describedby', href: '{schema}' }],
  }),
};
