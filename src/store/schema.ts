/** Row types of the metadata store. Times are epoch milliseconds; booleans are 0/1 integers (portable). */
import type { Generated } from 'kysely';

export interface AccountRow {
  id: string;
  name: string;
  kind: 'user' | 'system' | 'isv';
  created_at: number;
  /** scrypt hash for Keystone's password method ('' = none set) (0005; optional so older row literals still type-check). */
  password_hash?: string;
  /** 1 = Keystone role `admin` (0005). */
  is_admin?: number;
}

export interface AccessKeyRow {
  id: string;
  account_id: string;
  /** AES-256-GCM ciphertext of the secret (HMAC verification needs the plain secret back). */
  secret_enc: string;
  created_at: number;
}

export interface ImageRow {
  id: string;
  region: string;
  owner_id: string;
  name: string;
  description: string;
  family: string;
  version: string;
  /** system | self | marketplace (`others` is computed per viewer) */
  category: string;
  status: string;
  progress: number;
  os_name: string;
  os_name_en: string;
  os_type: string;
  platform: string;
  architecture: string;
  boot_mode: string;
  size_gib: number;
  is_support_cloudinit: number;
  is_support_io_optimized: number;
  product_code: string;
  license_type: string;
  /** Billing class inherited from the ultimate source: none | windows | rhel | suse */
  license_class: string;
  imds_support: string;
  nvme_support: string;
  source_kind: string;
  source_id: string;
  is_copied: number;
  encrypted: number;
  kms_key_id: string;
  is_public: number;
  error_code: string;
  error_message: string;
  created_at: number;
  updated_at: number;
  /** system | data | whole (0008; optional so older row literals still type-check; the column defaults to system). */
  image_kind?: string;
  /** 'ims' = made through a Huawei IMS project (its share limit), '' = Alibaba-style (0008). */
  share_family?: string;
}

export interface ImageDiskRow {
  image_id: string;
  idx: number;
  type: 'system' | 'data';
  device: string;
  size_gib: number;
  snapshot_id: string;
  format: string;
  import_bucket: string;
  import_object: string;
  progress: number;
}

export interface ImageShareRow {
  image_id: string;
  account_id: string;
  created_at: number;
}

export interface TagRow {
  resource_id: string;
  resource_type: string;
  tag_key: string;
  tag_value: string;
}

export interface ManifestRow {
  id: string;
  region: string;
  virtual_size: number;
  /** JSON of the Manifest's chunk list in sparse form: [[index, ref, zeroMap], ...] */
  body: string;
  /** Holders (snapshots, disks, images) that point at this manifest. */
  holders: number;
  created_at: number;
}

/** What an import made of an unchanged bucket object (migration 0016; services/transfer/import-memo.ts). */
export interface ImportMemoRow {
  region: string;
  /** SHA-256 hex of the object's version identity and the declared format. */
  source: string;
  manifest_id: string;
  format: string;
  virtual_size: number;
  unique_bytes: number;
  created_at: number;
}

export interface ChunkRow {
  region: string;
  ref: string;
  size: number;
  refcount: number;
  /** live | deleting */
  state: string;
  touched_at: number;
}

/** When an account last had a job claimed: the queue serves accounts round-robin. */
export interface JobTurnRow {
  account_id: string;
  last_claim: number;
}

export interface JobRow {
  id: string;
  kind: string;
  region: string;
  account_id: string;
  resource_id: string;
  /** queued | running | succeeded | failed | cancelled */
  state: string;
  payload: string;
  progress: number;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  error_code: string;
  error_message: string;
  result: string;
  cancel_requested: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  /** The node that must claim it (its input is a file there); '' = any node (migration 0014). */
  node: string;
}

/** A node's heartbeat: the jobs pinned to it are failed once alive_until has passed (migration 0014). */
export interface JobNodeRow {
  id: string;
  alive_until: number;
}

export interface NonceRow {
  nonce: string;
  expires_at: number;
}

export interface ConsoleSessionRow {
  id_hash: string;
  account_id: string;
  access_key_id: string;
  csrf_token: string;
  expires_at: number;
}

export interface ReadHoldRow {
  id: string;
  manifest_id: string;
  expires_at: number;
}

export interface IdempotencyRow {
  account_id: string;
  action: string;
  token: string;
  params_hash: string;
  response: string;
  created_at: number;
}

export interface InstanceRow {
  id: string;
  region: string;
  zone: string;
  owner_id: string;
  name: string;
  instance_type: string;
  /** Pending | Running | Starting | Stopping | Stopped */
  status: string;
  image_id: string;
  charge_type: string;
  created_at: number;
  updated_at: number;
  /** OS facts of the image (0003; optional so older row literals still type-check). */
  os_name?: string;
  os_name_en?: string;
  os_type?: string;
  /** Why the instance's VM last ended by itself ('' when it never did, or was stopped through the API) (0007). */
  stop_reason?: string;
}

/** The serial console of an instance's current or last VM, saved as it runs (0007). */
export interface InstanceConsoleRow {
  instance_id: string;
  /** The last bytes of the console (at most vm/hypervisor's CONSOLE_BYTES), base64. */
  output_base64: string;
  updated_at: number;
}

export interface DiskRow {
  id: string;
  region: string;
  zone: string;
  owner_id: string;
  instance_id: string;
  name: string;
  /** Set by CreateDisk (0011); disks made with an instance have none. */
  description?: string;
  type: 'system' | 'data';
  category: string;
  size_gib: number;
  device: string;
  /** In_use | Available */
  status: string;
  source_image_id: string;
  /** Owner of the source image when the disk was made (0003): tells an own deleted image from a shared one. */
  source_image_owner_id?: string;
  source_snapshot_id: string;
  manifest_id: string;
  version: number;
  delete_with_instance: number;
  created_at: number;
  updated_at: number;
}

export interface SnapshotRow {
  id: string;
  region: string;
  owner_id: string;
  name: string;
  description: string;
  source_disk_id: string;
  source_disk_type: 'system' | 'data';
  source_disk_size_gib: number;
  source_snapshot_id: string;
  source_region: string;
  snapshot_type: string;
  manifest_id: string;
  /** progressing | accomplished | failed */
  status: string;
  progress: number;
  unique_bytes: number;
  retention_days: number;
  created_at: number;
  updated_at: number;
}

export interface BucketRow {
  name: string;
  owner_id: string;
  region: string;
  created_at: number;
}

/** A Keystone token, known only by its SHA-256 (0005). */
export interface OsTokenRow {
  token_hash: string;
  account_id: string;
  /** comma-separated auth methods */
  methods: string;
  audit_id: string;
  access_key_id: string;
  issued_at: number;
  expires_at: number;
  revoked: number;
}

/** What Glance knows about an image beyond the ECS row (0005). Booleans 0/1; '' = null. */
export interface GlanceImageRow {
  image_id: string;
  disk_format: string;
  container_format: string;
  visibility: string;
  protected: number;
  os_hidden: number;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string;
  os_hash_algo: string;
  os_hash_value: string;
  /** Manifest of the uploaded file's bytes, as uploaded (GET /file serves it). */
  file_manifest_id: string;
  /** Refines the ECS status (domain/glance-status.ts): '' | uploading | saving | importing. */
  phase: string;
  stage_path: string;
  /** The node whose data directory holds stage_path (migration 0014). */
  stage_node: string;
  /** The staged bytes' digests, taken while spooling; '' for a stage older than migration 0018. */
  stage_md5: string;
  stage_sha512: string;
  /** JSON object of free-form string properties. */
  properties: string;
  /** JSON array of `{url, metadata}`: the http(s) locations added through PATCH (migration 0012). */
  locations: string;
}

/** A Glance member not (or no longer) accepted; accepted members are image_shares rows (0005). */
export interface GlanceMetadefNamespaceRow {
  namespace: string;
  owner: string;
  /** JSON: display_name, description, visibility, protected, resource_type_associations, objects, properties, tags. */
  document: string;
  created_at: number;
  updated_at: number;
}

export interface GlanceMemberRow {
  image_id: string;
  member_id: string;
  /** pending | rejected */
  status: string;
  created_at: number;
  updated_at: number;
}

/**
 * Images per (region, owner, category, status), kept by triggers on `images` (migration 0013). On PostgreSQL a key
 * may have several rows (deltas); its count is their sum.
 */
export interface ImageCountRow {
  region: string;
  owner_id: string;
  category: string;
  status: string;
  n: number;
}

export interface Database {
  image_counts: ImageCountRow;
  os_tokens: OsTokenRow;
  glance_images: GlanceImageRow;
  glance_members: GlanceMemberRow;
  glance_metadef_namespaces: GlanceMetadefNamespaceRow;
  instances: InstanceRow;
  instance_consoles: InstanceConsoleRow;
  disks: DiskRow;
  snapshots: SnapshotRow;
  buckets: BucketRow;
  accounts: AccountRow;
  access_keys: AccessKeyRow;
  images: ImageRow;
  image_disks: ImageDiskRow;
  image_shares: ImageShareRow;
  tags: TagRow;
  manifests: ManifestRow;
  import_memos: ImportMemoRow;
  chunks: ChunkRow;
  jobs: JobRow;
  job_turns: JobTurnRow;
  job_nodes: JobNodeRow;
  nonces: NonceRow;
  console_sessions: ConsoleSessionRow;
  read_holds: ReadHoldRow;
  idempotency: IdempotencyRow;
}

export type { Generated };
