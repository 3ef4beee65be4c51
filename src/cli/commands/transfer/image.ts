/** `imagehouse image import FILE` (direct upload, no bucket needed) and `imagehouse image export IMAGE_ID`. */
import fs from 'node:fs';
import path from 'node:path';
import { callAction } from '../../api.ts';
import { EXIT, type Command } from '../../command.ts';
import { importFile } from './client.ts';
import { ProgressBar, terminalWriter } from './progress.ts';
import { UsageError, flag, taskOutcome, waitForImage, waitForTask, withClient } from './run.ts';

export const imageImport: Command = {
  path: ['image', 'import'],
  summary: 'Upload a disk file (qcow2, VHD, VHDX, VMDK, raw) and import it as a custom image',
  usage: [
    'imagehouse image import FILE --name NAME [--format qcow2|vhd|vhdx|vmdk|raw] [--platform P] [--os-type linux|windows]',
    '                         [--architecture x86_64|arm64|i386] [--boot-mode BIOS|UEFI] [--disk-size GiB] [--description D]',
    '                         [--wait] [--json]',
    '',
    'Streams the file to the service with a progress bar on stderr; the service inspects it and imports it in the',
    'background. With --wait, follows the import until the image is Available (exit 0) or CreateFailed (exit 3).',
    '',
    'Example:',
    '  imagehouse image import ./ubuntu.qcow2 --name ubuntu-base --platform Ubuntu --wait',
  ].join('\n'),
  run: ({ flags, rest }, io) => withClient('image import', flags, io, async (cfg) => {
    if (rest.length !== 1) throw new UsageError('give one FILE');
    const name = flag(flags, 'name');
    if (!name) throw new UsageError('--name NAME is required');
    const file = rest[0];
    const size = fs.statSync(file).size;
    const bar = new ProgressBar(io, `uploading ${path.basename(file)}`, size, { write: terminalWriter(io) });
    const started = await importFile(cfg, file, {
      ImageName: name,
      Format: flag(flags, 'format'),
      Platform: flag(flags, 'platform'),
      OSType: flag(flags, 'os-type'),
      Architecture: flag(flags, 'architecture'),
      BootMode: flag(flags, 'boot-mode'),
      DiskImageSize: flag(flags, 'disk-size'),
      Description: flag(flags, 'description'),
    }, (n) => bar.add(n));
    bar.finish('uploaded');
    const out: Record<string, unknown> = { imageId: started.ImageId, taskId: started.TaskId, regionId: started.RegionId, size: started.Size, sha256: started.Sha256 };
    if (!flags.wait) {
      if (flags.json) io.out(JSON.stringify(out));
      else io.out(`Importing ${file} as image ${started.ImageId} (task ${started.TaskId}); follow it with: imagehouse task show ${started.TaskId}`);
      return EXIT.ok;
    }
    const status = await waitForImage(cfg, io, started.ImageId, 'importing');
    out.status = status;
    if (status !== 'Available') {
      const t = await taskOutcome(cfg, started.TaskId);
      Object.assign(out, { errorCode: t.ErrorCode, errorMessage: t.ErrorMsg });
      if (!flags.json) io.err(`image import: ${status}: ${t.ErrorCode}: ${t.ErrorMsg}`);
    }
    if (flags.json) io.out(JSON.stringify(out));
    else if (status === 'Available') io.out(`Image ${started.ImageId} is Available`);
    return status === 'Available' ? EXIT.ok : EXIT.rejected;
  }),
};

export const imageExport: Command = {
  path: ['image', 'export'],
  summary: 'Export a custom image to a bucket as raw, qcow2, vhd or vmdk (one object per disk)',
  usage: [
    'imagehouse image export IMAGE_ID --bucket B [--format raw|qcow2|vhd|vmdk] [--prefix P] [--wait] [--json]',
    '',
    'Objects are named <prefix>_<image>_<task>.<ext> for the system disk and <prefix>_<image>_<task>_<N>.<ext> for',
    'data disk N. With --wait, follows the task and prints the object keys when it finishes.',
    '',
    'Example:',
    '  imagehouse image export m-bp1abc... --bucket my-images --format qcow2 --wait',
  ].join('\n'),
  run: ({ flags, rest }, io) => withClient('image export', flags, io, async (cfg) => {
    if (rest.length !== 1) throw new UsageError('give one IMAGE_ID');
    const bucket = flag(flags, 'bucket');
    if (!bucket) throw new UsageError('--bucket B is required');
    const res = await callAction(cfg, 'ExportImage', {
      RegionId: cfg.region, ImageId: rest[0], OSSBucket: bucket, ImageFormat: flag(flags, 'format'), OSSPrefix: flag(flags, 'prefix'),
    });
    const t = flags.wait ? await waitForTask(cfg, io, res.TaskId, 'exporting') : await taskOutcome(cfg, res.TaskId);
    const out = { taskId: res.TaskId, imageId: rest[0], bucket, status: t.TaskStatus, objects: t.Objects, errorCode: t.ErrorCode, errorMessage: t.ErrorMsg };
    if (flags.json) io.out(JSON.stringify(out));
    else if (!flags.wait) io.out(`Exporting ${rest[0]} to ${bucket} (task ${res.TaskId}): ${t.Objects.join(', ')}`);
    else if (t.TaskStatus === 'Finished') io.out(`Exported ${rest[0]} to ${bucket}: ${t.Objects.join(', ')}`);
    else io.err(`image export: ${t.TaskStatus}: ${t.ErrorCode}: ${t.ErrorMsg}`);
    return !flags.wait || t.TaskStatus === 'Finished' ? EXIT.ok : EXIT.rejected;
  }),
};
