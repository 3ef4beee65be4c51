/** `imagehouse image list|show|modify|deprecate|undeprecate|delete` and `region list`: API clients for the catalogue. */
import { ApiCallError, callAction, type ClientConfig } from '../../api.ts';
import { EXIT, type CliIo, type Command } from '../../command.ts';
import { UsageError, withClient } from '../../errors.ts';
import { table } from '../../format.ts';
import { colours, relativeTime, statusColour } from '../../style.ts';
import { flag, int, oneId } from './args.ts';

const ALL_STATUSES = 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated';
const OWNERS: Record<string, string> = { self: 'self', custom: 'self', system: 'system', public: 'system', others: 'others', shared: 'others', marketplace: 'marketplace' };

export function imageRows(io: CliIo, images: any[]): string {
  const c = colours(io);
  return table(['IMAGE ID', 'NAME', 'OWNER', 'OS', 'ARCH', 'SIZE', 'STATUS', 'PROGRESS', 'CREATED'], images.map((i) => [
    i.ImageId, i.ImageName, i.ImageOwnerAlias, i.OSNameEn || i.OSName || i.Platform, i.Architecture, `${i.Size} GiB`,
    c(statusColour(i.Status) ?? 'bold', i.Status), i.Progress, c('dim', relativeTime(i.CreationTime)),
  ]));
}

export async function describeImage(cfg: ClientConfig, id: string): Promise<any | undefined> {
  const res = await callAction(cfg, 'DescribeImages', { RegionId: cfg.region, ImageId: id, Status: ALL_STATUSES, ShowExpired: true });
  return res.Images.Image[0];
}

export const imageList: Command = {
  path: ['image', 'list'],
  summary: 'List images you can see: public, your own, shared with you, Marketplace (DescribeImages)',
  usage: [
    'imagehouse image list [--owner self|system|others|marketplace] [--name TEXT] [--id ID[,ID]] [--snapshot SNAPSHOT_ID]',
    '                      [--os-type linux|windows] [--family FAMILY] [--status S[,S]] [--page N] [--page-size N] [--all] [--json]',
    '',
    'Without --owner, lists every image you can use. --name matches a prefix or * wildcards; --all fetches every page.',
    '--json prints the API\'s image objects as an array (add --page to get {TotalCount, PageNumber, PageSize, Images}).',
    '',
    'Examples:',
    '  imagehouse image list --owner self',
    '  imagehouse image list --owner system --os-type linux --name "ubuntu*"',
    '  imagehouse image list --owner self --status Available,CreateFailed --json | jq -r ".[].ImageId"',
  ].join('\n'),
  run: ({ flags }, io) => withClient('image list', flags, io, async (cfg) => {
    const ownerFlag = flag(flags, 'owner');
    const owner = ownerFlag === undefined ? undefined : OWNERS[ownerFlag];
    if (ownerFlag !== undefined && !owner) throw new UsageError('--owner must be self, system, others or marketplace');
    const pageSize = int(flags, 'page-size') ?? 50;
    const params = {
      RegionId: cfg.region, ImageOwnerAlias: owner, ImageName: flag(flags, 'name'), ImageId: flag(flags, 'id'), SnapshotId: flag(flags, 'snapshot'),
      OSType: flag(flags, 'os-type'), ImageFamily: flag(flags, 'family'), Status: flag(flags, 'status'), PageSize: pageSize,
    };
    const single = int(flags, 'page');
    const images: any[] = [];
    let total = 0;
    for (let page = single ?? 1; ; page++) {
      const res = await callAction(cfg, 'DescribeImages', { ...params, PageNumber: page });
      images.push(...res.Images.Image);
      total = res.TotalCount;
      if (single !== undefined || !flags.all || images.length >= total || res.Images.Image.length === 0) break;
    }
    if (flags.json) io.out(JSON.stringify(single !== undefined ? { TotalCount: total, PageNumber: single, PageSize: pageSize, Images: images } : images));
    else {
      io.out(imageRows(io, images));
      if (images.length < total) io.out(colours(io)('dim', `${images.length} of ${total} shown; use --all or --page N`));
    }
    return EXIT.ok;
  }),
};

export const imageShow: Command = {
  path: ['image', 'show'],
  summary: "Show one image: status, progress, disks and (for your own) who it is shared with",
  usage: 'imagehouse image show IMAGE_ID [--json]\n\nExample:\n  imagehouse image show m-bp1abc... --region cn-hangzhou',
  run: ({ flags, rest }, io) => withClient('image show', flags, io, async (cfg) => {
    const id = oneId(rest, 'IMAGE_ID');
    const image = await describeImage(cfg, id);
    if (!image) {
      throw new ApiCallError('InvalidImageId.NotFound', `The specified image ${id} does not exist in ${cfg.region}.`, 404, '');
    }
    const shares = image.ImageOwnerAlias === 'self'
      ? (await callAction(cfg, 'DescribeImageSharePermission', { RegionId: cfg.region, ImageId: id, PageSize: 100 })).Accounts.Account.map((a: any) => a.AliyunId)
      : [];
    if (flags.json) {
      io.out(JSON.stringify({ ...image, SharedWith: shares }));
      return EXIT.ok;
    }
    const c = colours(io);
    const fields: [string, string][] = [
      ['Image', `${image.ImageId}  ${image.ImageName}`], ['Status', `${c(statusColour(image.Status) ?? 'bold', image.Status)} ${image.Progress}`],
      ['Owner', `${image.ImageOwnerAlias} (${image.ImageOwnerId})`], ['OS', `${image.OSNameEn || image.OSName} ${image.OSType}/${image.Architecture} ${image.BootMode}`],
      ['Family', image.ImageFamily || '-'], ['Size', `${image.Size} GiB`], ['Created', `${image.CreationTime} (${relativeTime(image.CreationTime)})`],
      ['Description', image.Description || '-'], ['Shared with', shares.join(', ') || (image.ImageOwnerAlias === 'self' ? 'nobody' : '-')],
    ];
    if (image.ProductCode) fields.push(['Marketplace', image.ProductCode]);
    const w = Math.max(...fields.map(([k]) => k.length));
    for (const [k, v] of fields) io.out(`${k.padEnd(w)}  ${v}`);
    io.out('');
    io.out(table(['DEVICE', 'TYPE', 'SIZE', 'SNAPSHOT', 'FORMAT', 'PROGRESS'], image.DiskDeviceMappings.DiskDeviceMapping.map((d: any) => [
      d.Device, d.Type, `${d.Size} GiB`, d.SnapshotId || '-', d.Format || '-', d.Progress,
    ])));
    return EXIT.ok;
  }),
};

export const imageModify: Command = {
  path: ['image', 'modify'],
  summary: "Change your image's name, description or family (ModifyImageAttribute)",
  usage: 'imagehouse image modify IMAGE_ID [--name NAME] [--description TEXT] [--family FAMILY] [--json]\n\nExample:\n  imagehouse image modify m-bp1abc... --name web-2024-06 --family web',
  run: ({ flags, rest }, io) => withClient('image modify', flags, io, async (cfg) => {
    const id = oneId(rest, 'IMAGE_ID');
    const changes = { ImageName: flag(flags, 'name'), Description: flag(flags, 'description'), ImageFamily: flag(flags, 'family') };
    if (Object.values(changes).every((v) => v === undefined)) throw new UsageError('give at least one of --name, --description, --family');
    await callAction(cfg, 'ModifyImageAttribute', { RegionId: cfg.region, ImageId: id, ...changes });
    io.out(flags.json ? JSON.stringify({ ImageId: id, Modified: true }) : `${id}: modified`);
    return EXIT.ok;
  }),
};

function statusCommand(word: 'deprecate' | 'undeprecate', status: 'Deprecated' | 'Available', summary: string): Command {
  return {
    path: ['image', word],
    summary,
    usage: `imagehouse image ${word} IMAGE_ID [--json]\n\nA deprecated image stays usable by existing instances but is hidden from family lookups.\n\nExample:\n  imagehouse image ${word} m-bp1abc...`,
    run: ({ flags, rest }, io) => withClient(`image ${word}`, flags, io, async (cfg) => {
      const id = oneId(rest, 'IMAGE_ID');
      await callAction(cfg, 'ModifyImageAttribute', { RegionId: cfg.region, ImageId: id, Status: status });
      io.out(flags.json ? JSON.stringify({ ImageId: id, Status: status }) : `${id}: ${status}`);
      return EXIT.ok;
    }),
  };
}

export const imageDeprecate = statusCommand('deprecate', 'Deprecated', 'Deprecate your image (ModifyImageAttribute Status=Deprecated)');
export const imageUndeprecate = statusCommand('undeprecate', 'Available', 'Make a deprecated image Available again');

export const imageDelete: Command = {
  path: ['image', 'delete'],
  summary: 'Delete your image; its snapshots stay (DeleteImage)',
  usage: [
    'imagehouse image delete IMAGE_ID [--force] [--json]',
    '',
    'What deleting means: the image disappears for you and everyone it is shared with; the snapshots it was made',
    'from stay (delete them with `imagehouse snapshot delete`); disks created from it can no longer be re-initialised.',
    '--force deletes even when instances still run from it, or it is shared.',
    '',
    'Example:',
    '  imagehouse image delete m-bp1abc... --force',
  ].join('\n'),
  run: ({ flags, rest }, io) => withClient('image delete', flags, io, async (cfg) => {
    const id = oneId(rest, 'IMAGE_ID');
    await callAction(cfg, 'DeleteImage', { RegionId: cfg.region, ImageId: id, ...(flags.force ? { Force: true } : {}) });
    if (flags.json) io.out(JSON.stringify({ ImageId: id, Deleted: true }));
    else io.out(`${id}: deleted. Its snapshots stay; disks created from it can no longer be re-initialised.`);
    return EXIT.ok;
  }),
};

export const regionList: Command = {
  path: ['region', 'list'],
  summary: 'List the regions (DescribeRegions)',
  usage: 'imagehouse region list [--json]\n\nExample:\n  imagehouse region list --json',
  run: ({ flags }, io) => withClient('region list', flags, io, async (cfg) => {
    const res = await callAction(cfg, 'DescribeRegions', { AcceptLanguage: 'en-US' });
    const regions = res.Regions.Region;
    if (flags.json) io.out(JSON.stringify(regions));
    else io.out(table(['REGION', 'NAME', 'ENDPOINT'], regions.map((r: any) => [r.RegionId, r.LocalName, r.RegionEndpoint])));
    return EXIT.ok;
  }),
};
