/**
 * Direct import (`imagehouse image import FILE`): the request is validated before the upload is read, the
 * body is spooled to the data volume while it is hashed, and the spooled file becomes the import's source.
 * A sparse body (formats/sparse-body.ts: the CLI's upload of a file with holes) is spooled with its holes, and
 * its zeros are hashed without having crossed the network.
 * Partial spools live in the temp folder (swept if a crash leaves them); complete ones move to `uploads/`,
 * and the import job deletes them when it ends.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { writeAndDigest, writeSparseAndDigest } from '../../blobs/stream-digests.ts';
import { apiError, isApiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { startImport, type ImportInput, type StartedImport } from './import.ts';

export interface DirectImportInput extends Omit<ImportInput, 'disks' | 'dryRun' | 'tags'> {
  format?: string;
  diskImageSize?: number;
}

/** The upload, validated, spooled and started as an import: one of the owner's limited concurrent heavy requests. */
export async function directImport(services: Services, body: Readable, input: DirectImportInput, opts: { sparse?: boolean } = {}): Promise<StartedImport & { Size: number; Sha256: string }> {
  return services.work.run(input.owner, () => spoolAndImport(services, body, input, opts));
}

async function spoolAndImport(services: Services, body: Readable, input: DirectImportInput, opts: { sparse?: boolean }): Promise<StartedImport & { Size: number; Sha256: string }> {
  const request = (upload: string, dryRun: boolean): ImportInput => ({
    ...input, dryRun, disks: [{ upload, format: input.format, diskImageSize: input.diskImageSize }],
  });
  // Everything but the file itself is checked before a byte is spooled.
  await startImport(services, request('(pending)', true)).catch((e) => {
    if (!(isApiError(e) && e.code === 'DRYRUN.SUCCESS')) throw e;
  });

  const tmp = services.dirs.temp;
  await fs.mkdir(tmp, { recursive: true });
  const spool = path.join(tmp, `upload-${crypto.randomBytes(8).toString('hex')}`);
  try {
    // Hashed on a worker thread (a sparse body's holes too), so a large upload leaves the event loop to other tenants.
    const { size, hex: [sha256] } = await (opts.sparse ? writeSparseAndDigest : writeAndDigest)(body, spool, ['sha256'], services.dataPlane.buffers);
    if (size === 0) throw apiError('InvalidUpload.Empty');
    const uploads = services.dirs.uploads;
    await fs.mkdir(uploads, { recursive: true });
    const file = path.join(uploads, path.basename(spool));
    await fs.rename(spool, file);
    try {
      return { ...(await startImport(services, request(file, false))), Size: size, Sha256: sha256 };
    } catch (e) {
      await fs.rm(file, { force: true });
      throw e;
    }
  } finally {
    await fs.rm(spool, { force: true });
  }
}
