/** Payloads and checkpoints of the transfer jobs (ImportImage, ExportImage). */
import type { ExportFormat, ImportFormat } from '../../formats/types.ts';


/** One disk to import: an object in a bucket, or a file uploaded to the service (direct import). */
export interface ImportDiskPlan {
  bucket: string;
  key: string;
  /** Path of the spooled upload (direct import); the job removes it when it ends. */
  upload?: string;
  /** Declared format; absent = detect. */
  format?: ImportFormat;
  /** DiskImageSize; absent = the file's virtual size rounded up to GiB. */
  sizeGib?: number;
}
export interface ImportPayload {
  disks: ImportDiskPlan[];
}

/** What the import job checkpoints per imported disk (keyed by disk index). */
export interface ImportedDisk {
  /** Checkpointed before the manifest is committed: on resume, a missing manifest means import it again. */
  manifestId: string;
  /** Set once a snapshot holds the manifest: the disk is done. */
  snapshotId?: string;
  virtualSize: number;
  sizeGib: number;
  format: ImportFormat;
  uniqueBytes: number;
}

export interface ExportObjectPlan {
  idx: number;
  snapshotId: string;
  key: string;
}
export interface ExportPayload {
  bucket: string;
  format: ExportFormat;
  objects: ExportObjectPlan[];
}
