/**
 * Glance bytes left in this node's uploads folder that nothing will read any more: a stage whose image no longer
 * points at it (deleted, or imported, failed and staged again elsewhere while this node was down, as
 * JobNodeStopped does), or an upload spool whose job has finished. The app removes them once at start, before
 * the worker runs and before the node takes requests, so no spool of this node is being written meanwhile.
 */
import path from 'node:path';
import type { Services } from '../context.ts';
import { JOB_KIND } from '../job-kinds.ts';
import { removeTempFiles } from '../transfer/temp-files.ts';

const STAGE = 'glance-stage-';
const UPLOAD = 'glance-upload-';

export async function removeStaleSpools(services: Pick<Services, 'db' | 'jobs' | 'dirs'>): Promise<number> {
  const mine = ['', services.jobs.node];
  const staged = await services.db.selectFrom('glance_images').select('stage_path')
    .where('stage_path', 'like', `${path.join(services.dirs.uploads, STAGE)}%`).where('stage_node', 'in', mine).execute();
  const uploading = await services.db.selectFrom('jobs').select('resource_id')
    .where('kind', '=', JOB_KIND.glanceUpload).where('state', 'in', ['queued', 'running']).where('node', 'in', mine).execute();
  const keep = new Set([...staged.map((r) => r.stage_path), ...uploading.map((r) => path.join(services.dirs.uploads, UPLOAD + r.resource_id))]);
  let removed = 0;
  for (const prefix of [STAGE, UPLOAD]) {
    removed += await removeTempFiles(services.dirs.uploads, { prefix, keep: (file) => keep.has(file) });
  }
  return removed;
}
