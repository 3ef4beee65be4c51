import type { Command } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { callAction } from '../../api.ts';
import { table } from '../../format.ts';
import { UsageError, arg, int, listAll, str, withClient } from './client.ts';

/** `SIZE[@SNAPSHOT_ID],…` → DataDisk.N.Size / DataDisk.N.SnapshotId */
function dataDiskParams(spec: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!spec) return out;
  spec.split(',').forEach((item, i) => {
    const [size, snapshot] = item.split('@');
    if (size && !/^\d+$/.test(size)) throw new UsageError(`--data-disk: bad size "${size}"`);
    if (size) out[`DataDisk.${i + 1}.Size`] = size;
    if (snapshot) out[`DataDisk.${i + 1}.SnapshotId`] = snapshot;
  });
  return out;
}

export const instanceRun: Command = {
  path: ['instance', 'run'],
  summary: 'Launch instances from an image (RunInstances); disks are copy-on-write clones',
  usage: 'imagehouse instance run --image IMAGE_ID --type INSTANCE_TYPE [--amount N] [--name NAME] [--zone ZONE]\n' +
    '    [--system-disk-size GIB] [--system-disk-category CATEGORY] [--data-disk SIZE[@SNAPSHOT_ID],...] [--region R] [--json]\n\n' +
    'Example:\n  imagehouse instance run --image m-bp1abc --type ecs.g7.large --data-disk 20,40@s-bp1xyz',
  async run({ flags }, io) {
    return withClient('instance run', flags, io, async (cfg) => {
      const image = str(flags, 'image');
      const type = str(flags, 'type');
      if (!image || !type) throw new UsageError('--image and --type are required');
      const body = await callAction(cfg, 'RunInstances', {
        RegionId: cfg.region, ImageId: image, InstanceType: type, Amount: int(flags, 'amount'), InstanceName: str(flags, 'name'),
        ZoneId: str(flags, 'zone'), 'SystemDisk.Size': int(flags, 'system-disk-size'), 'SystemDisk.Category': str(flags, 'system-disk-category'),
        ...dataDiskParams(str(flags, 'data-disk')),
      });
      const ids: string[] = body.InstanceIdSets.InstanceIdSet;
      if (flags.json) io.out(JSON.stringify({ InstanceIds: ids }));
      else ids.forEach((id) => io.out(id));
      return EXIT.ok;
    });
  },
};

export const instanceList: Command = {
  path: ['instance', 'list'],
  summary: 'List your instances in the region (DescribeInstances)',
  usage: 'imagehouse instance list [--image IMAGE_ID] [--status Running|Stopped] [--region R] [--json]\n\nExample:\n  imagehouse instance list --status Running',
  async run({ flags }, io) {
    return withClient('instance list', flags, io, async (cfg) => {
      const items = await listAll(cfg, 'DescribeInstances', { ImageId: str(flags, 'image'), Status: str(flags, 'status') }, (b) => b.Instances.Instance);
      if (flags.json) io.out(JSON.stringify(items));
      else io.out(table(['INSTANCE ID', 'NAME', 'STATUS', 'TYPE', 'IMAGE', 'ZONE', 'CREATED'],
        items.map((i: any) => [i.InstanceId, i.InstanceName, i.Status, i.InstanceType, i.ImageId, i.ZoneId, i.CreationTime])));
      return EXIT.ok;
    });
  },
};

function simple(verb: string, action: string, summary: string, extra = ''): Command {
  return {
    path: ['instance', verb],
    summary,
    usage: `imagehouse instance ${verb} INSTANCE_ID${extra} [--json]\n\nExample:\n  imagehouse instance ${verb} i-bp1abc...`,
    async run({ flags, rest }, io) {
      return withClient(`instance ${verb}`, flags, io, async (cfg) => {
        const id = arg(rest, 0, 'INSTANCE_ID');
        const body = await callAction(cfg, action, { InstanceId: id, ...(flags.force ? { Force: true } : {}) });
        if (flags.json) io.out(JSON.stringify({ InstanceId: id, RequestId: body.RequestId }));
        else io.out(`${id}: ${verb === 'delete' ? 'deleted' : verb === 'start' ? 'Running' : 'Stopped'}`);
        return EXIT.ok;
      });
    },
  };
}

export const instanceStart = simple('start', 'StartInstance', 'Start a stopped instance (StartInstance)');
export const instanceStop = simple('stop', 'StopInstance', 'Stop a running instance (StopInstance)');
export const instanceDelete = simple('delete', 'DeleteInstance', 'Release an instance and its DeleteWithInstance disks (DeleteInstance)', ' [--force]');

/** What `next` adds after `prev` when both are the tail of one growing console (the ring may have slid). */
function consoleTail(prev: Buffer, next: Buffer): Buffer {
  if (prev.length === 0) return next;
  const probe = prev.subarray(-Math.min(256, prev.length));
  const at = next.lastIndexOf(probe);
  return at >= 0 ? next.subarray(at + probe.length) : next;
}

export const instanceConsole: Command = {
  path: ['instance', 'console'],
  summary: 'Print the serial console of an instance run as a VM (GetInstanceConsoleOutput, last 64 KiB)',
  usage: 'imagehouse instance console INSTANCE_ID [--follow]\n\n--follow keeps printing new output until the instance is no longer Running.\n\n' +
    'Example:\n  imagehouse instance console i-bp1abc... --follow',
  async run({ flags, rest }, io) {
    return withClient('instance console', flags, io, async (cfg) => {
      const id = arg(rest, 0, 'INSTANCE_ID');
      const fetch = async () => Buffer.from((await callAction(cfg, 'GetInstanceConsoleOutput', { RegionId: cfg.region, InstanceId: id })).ConsoleOutput ?? '', 'base64');
      let shown = await fetch();
      io.out(shown.toString('utf8').replace(/\n$/, ''));
      while (flags.follow) {
        await new Promise((r) => setTimeout(r, 1000));
        const running = (await callAction(cfg, 'DescribeInstances', { RegionId: cfg.region, InstanceIds: JSON.stringify([id]) })).Instances.Instance[0]?.Status === 'Running';
        const now = await fetch();
        const tail = consoleTail(shown, now);
        if (tail.length) io.out(tail.toString('utf8').replace(/\n$/, ''));
        shown = now;
        if (!running) break;
      }
      return EXIT.ok;
    });
  },
};
