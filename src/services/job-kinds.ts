/** The durable job kinds. Each name is also the task's TaskAction on the wire. */
import type { JobHandler, JobTrxHook } from '../jobs/index.ts';

export const JOB_KIND = {
  createImage: 'CreateImage',
  copyImage: 'CopyImage',
  importImage: 'ImportImage',
  exportImage: 'ExportImage',
  /** Glance's interoperable import (glance-direct, web-download, glance-download): `api_image_import` tasks. */
  glanceImport: 'GlanceImport',
  /** Glance's tasks API (POST /v2/tasks, type `import`): the same work, an `import` task. */
  glanceTask: 'GlanceTask',
  /** Glance's PUT /file: the same work, waited for by the request; not a task. */
  glanceUpload: 'GlanceUpload',
  /** IMS's batch member changes (services/ims/members.ts). */
  imsMembers: 'ImsMembers',
} as const;

export type JobKindName = (typeof JOB_KIND)[keyof typeof JOB_KIND];

/** Jobs the ECS API does not report as tasks: Glance's and IMS's show on their own surfaces. */
export const NON_ECS_KINDS: readonly string[] = [JOB_KIND.glanceImport, JOB_KIND.glanceTask, JOB_KIND.glanceUpload, JOB_KIND.imsMembers];

/** Tasks CancelTask accepts. */
export const CANCELLABLE_KINDS: readonly string[] = [JOB_KIND.importImage, JOB_KIND.exportImage];

/** A kind of durable job: its handler, and what happens to its resource rows when it ends. */
export interface JobKind {
  handler: JobHandler;
  /** Runs in the transaction that moves the job to succeeded / failed / cancelled. */
  onFinished?: JobTrxHook;
}
