import fs from 'node:fs';
import type { Command } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { dataRequest } from '../../api.ts';
import { table } from '../../format.ts';
import { ACCEPT_SPARSE, saveDownload } from '../../sparse-file.ts';
import { UsageError, arg, int, listAll, str, withClient } from './client.ts';

export const diskList: Command = {
  path: ['disk', 'list'],
  summary: 'List your disks in the region (DescribeDisks)',
  usage: 'imagehouse disk list [--instance INSTANCE_ID] [--type system|data] [--region R] [--json]\n\nExample:\n  imagehouse disk list --instance i-bp1abc...',
  async run({ flags }, io) {
    return withClient('disk list', flags, io, async (cfg) => {
      const items = await listAll(cfg, 'DescribeDisks', { InstanceId: str(flags, 'instance'), DiskType: str(flags, 'type') }, (b) => b.Disks.Disk);
      if (flags.json) io.out(JSON.stringify(items));
      else io.out(table(['DISK ID', 'TYPE', 'CATEGORY', 'GIB', 'STATUS', 'INSTANCE', 'DEVICE', 'IMAGE', 'SOURCE SNAPSHOT'],
        items.map((d: any) => [d.DiskId, d.Type, d.Category, String(d.Size), d.Status, d.InstanceId, d.Device, d.ImageId, d.SourceSnapshotId])));
      return EXIT.ok;
    });
  },
};

export const diskRead: Command = {
  path: ['disk', 'read'],
  summary: "Download a disk's bytes: the whole disk as raw, or --offset/--length of it",
  usage: 'imagehouse disk read DISK_ID OUT [--offset N] [--length L] [--json]\n\n' +
    'Examples:\n  imagehouse disk read d-bp1abc disk.raw\n  imagehouse disk read d-bp1abc head.bin --offset 0 --length 512',
  async run({ flags, rest }, io) {
    return withClient('disk read', flags, io, async (cfg) => {
      const diskId = arg(rest, 0, 'DISK_ID');
      const out = arg(rest, 1, 'OUT');
      const offset = int(flags, 'offset');
      const length = int(flags, 'length');
      if (length === 0) throw new UsageError('--length must be at least 1');
      const headers: Record<string, string> = { ...ACCEPT_SPARSE };
      if (offset !== undefined || length !== undefined) {
        const start = offset ?? 0;
        headers.range = `bytes=${start}-${length === undefined ? '' : start + length - 1}`;
      }
      const res = await dataRequest(cfg, 'GET', `/disks/${encodeURIComponent(diskId)}/content`, {}, { headers });
      const bytes = await saveDownload(res, out);
      if (flags.json) io.out(JSON.stringify({ DiskId: diskId, Offset: offset ?? 0, Bytes: bytes, Path: out }));
      else io.out(`${out}: ${bytes} bytes of ${diskId} from offset ${offset ?? 0}`);
      return EXIT.ok;
    });
  },
};

export const diskWrite: Command = {
  path: ['disk', 'write'],
  summary: "Write a file's bytes into a disk at --offset (copy-on-write: snapshots and images never change)",
  usage: 'imagehouse disk write DISK_ID FILE [--offset N] [--json]\n\nExample:\n  imagehouse disk write d-bp1abc boot.bin --offset 0',
  async run({ flags, rest }, io) {
    return withClient('disk write', flags, io, async (cfg) => {
      const diskId = arg(rest, 0, 'DISK_ID');
      const file = arg(rest, 1, 'FILE');
      const offset = int(flags, 'offset') ?? 0;
      let size: number;
      try {
        size = (await fs.promises.stat(file)).size;
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
      }
      const res = await dataRequest(cfg, 'PUT', `/disks/${encodeURIComponent(diskId)}/content`, { offset: String(offset) }, {
        body: fs.createReadStream(file, { highWaterMark: 1 << 20 }),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      });
      const body = (await res.json()) as { BytesWritten: number };
      if (flags.json) io.out(JSON.stringify({ DiskId: diskId, Offset: offset, BytesWritten: body.BytesWritten }));
      else io.out(`${diskId}: wrote ${body.BytesWritten} bytes at offset ${offset}`);
      return EXIT.ok;
    });
  },
};
