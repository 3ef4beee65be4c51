/**
 * The one table between Glance statuses and ECS statuses. An ECS status plus Glance's `phase` (kept in
 * glance_images) gives the Glance status; a Glance status gives the ECS status and phase to store.
 */
export const GLANCE_STATUS_TABLE = [
  { glance: 'queued', ecs: 'Waiting', phase: '' },
  { glance: 'uploading', ecs: 'Waiting', phase: 'uploading' },
  { glance: 'saving', ecs: 'Creating', phase: 'saving' },
  { glance: 'importing', ecs: 'Creating', phase: '' },
  { glance: 'active', ecs: 'Available', phase: '' },
  { glance: 'deactivated', ecs: 'Deprecated', phase: '' },
  { glance: 'killed', ecs: 'CreateFailed', phase: '' },
  { glance: 'killed', ecs: 'UnAvailable', phase: '' },
] as const;

export type GlanceStatus = (typeof GLANCE_STATUS_TABLE)[number]['glance'];

export function glanceStatusOf(ecs: string, phase: string): GlanceStatus {
  const row = GLANCE_STATUS_TABLE.find((r) => r.ecs === ecs && r.phase === phase) ?? GLANCE_STATUS_TABLE.find((r) => r.ecs === ecs);
  return row?.glance ?? 'killed';
}

export function ecsStatusOf(glance: GlanceStatus): { ecs: string; phase: string } {
  const row = GLANCE_STATUS_TABLE.find((r) => r.glance === glance)!;
  return { ecs: row.ecs, phase: row.phase };
}

export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop', 'gpt'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['private', 'shared', 'community', 'public'] as const;
export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
/** Attributes a client may not set through PATCH or create. */
export const READ_ONLY_ATTRIBUTES = ['id', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'owner', 'created_at', 'updated_at', 'self', 'file', 'schema', 'direct_url', 'locations', 'stores'] as const;
/** Attributes with their own column; everything else is a free-form string property. */
export const BASE_ATTRIBUTES = ['name', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram', 'disk_format', 'container_format', 'tags'] as const;
