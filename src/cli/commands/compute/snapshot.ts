import type { Command } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { callAction } from '../../api.ts';
import { table } from '../../format.ts';
import { arg, listAll, str, withClient } from './client.ts';

export const snapshotCreate: Command = {
  path: ['snapshot', 'create'],
  summary: 'Snapshot a disk, instantly (CreateSnapshot)',
  usage: 'imagehouse snapshot create DISK_ID [--name NAME] [--description TEXT] [--json]\n\nExample:\n  imagehouse snapshot create d-bp1abc... --name before-upgrade',
  async run({ flags, rest }, io) {
    return withClient('snapshot create', flags, io, async (cfg) => {
      const body = await callAction(cfg, 'CreateSnapshot', { DiskId: arg(rest, 0, 'DISK_ID'), SnapshotName: str(flags, 'name'), Description: str(flags, 'description') });
      io.out(flags.json ? JSON.stringify({ SnapshotId: body.SnapshotId }) : body.SnapshotId);
      return EXIT.ok;
    });
  },
};

export const snapshotList: Command = {
  path: ['snapshot', 'list'],
  summary: 'List your snapshots in the region (DescribeSnapshots)',
  usage: 'imagehouse snapshot list [--disk DISK_ID] [--instance INSTANCE_ID] [--usage image|disk|image_disk|none] [--region R] [--json]\n\nExample:\n  imagehouse snapshot list --disk d-bp1abc...',
  async run({ flags }, io) {
    return withClient('snapshot list', flags, io, async (cfg) => {
      const items = await listAll(cfg, 'DescribeSnapshots',
        { DiskId: str(flags, 'disk'), InstanceId: str(flags, 'instance'), Usage: str(flags, 'usage') }, (b) => b.Snapshots.Snapshot);
      if (flags.json) io.out(JSON.stringify(items));
      else io.out(table(['SNAPSHOT ID', 'NAME', 'DISK', 'TYPE', 'DISK GIB', 'UNIQUE BYTES', 'USAGE', 'STATUS', 'CREATED'],
        items.map((s: any) => [s.SnapshotId, s.SnapshotName, s.SourceDiskId, s.SourceDiskType, String(s.SourceDiskSize), String(s.FullSnapshotSizeInBytes), s.Usage, s.Status, s.CreationTime])));
      return EXIT.ok;
    });
  },
};

export const snapshotDelete: Command = {
  path: ['snapshot', 'delete'],
  summary: 'Delete a snapshot that no image uses (DeleteSnapshot)',
  usage: 'imagehouse snapshot delete SNAPSHOT_ID [--force] [--json]\n\nExample:\n  imagehouse snapshot delete s-bp1abc...',
  async run({ flags, rest }, io) {
    return withClient('snapshot delete', flags, io, async (cfg) => {
      const id = arg(rest, 0, 'SNAPSHOT_ID');
      await callAction(cfg, 'DeleteSnapshot', { SnapshotId: id, ...(flags.force ? { Force: true } : {}) });
      io.out(flags.json ? JSON.stringify({ SnapshotId: id, Deleted: true }) : `${id}: deleted`);
      return EXIT.ok;
    });
  },
};
