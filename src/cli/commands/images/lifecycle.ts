/** `imagehouse image create|copy|cancel-copy|share|unshare|shares`: making, copying and sharing images. */
import { callAction } from '../../api.ts';
import { EXIT, type Command } from '../../command.ts';
import { UsageError, withClient } from '../../errors.ts';
import { table } from '../../format.ts';
import { relativeTime } from '../../style.ts';
import { waitForImage } from '../transfer/run.ts';
import { accounts, flag, oneId } from './args.ts';

export const imageCreate: Command = {
  path: ['image', 'create'],
  summary: 'Create a custom image from a snapshot or an instance (CreateImage)',
  usage: [
    'imagehouse image create (--snapshot SNAPSHOT_ID | --instance INSTANCE_ID) --name NAME [--family F] [--description D]',
    '                        [--platform P] [--architecture x86_64|arm64] [--wait] [--json]',
    '',
    'From an instance, every disk is snapshotted; from a snapshot, it becomes the system disk. With --wait, shows',
    'the image\'s progress and exits 0 when it is Available, 3 if it failed.',
    '',
    'Examples:',
    '  imagehouse image create --snapshot s-bp1abc... --name web-base --wait',
    '  imagehouse image create --instance i-bp1abc... --name web-golden --family web --json',
  ].join('\n'),
  run: ({ flags }, io) => withClient('image create', flags, io, async (cfg) => {
    const snapshot = flag(flags, 'snapshot');
    const instance = flag(flags, 'instance');
    if (!snapshot === !instance) throw new UsageError('give exactly one of --snapshot SNAPSHOT_ID or --instance INSTANCE_ID');
    const res = await callAction(cfg, 'CreateImage', {
      RegionId: cfg.region, SnapshotId: snapshot, InstanceId: instance, ImageName: flag(flags, 'name'), ImageFamily: flag(flags, 'family'),
      Description: flag(flags, 'description'), Platform: flag(flags, 'platform'), Architecture: flag(flags, 'architecture'),
    });
    const status = flags.wait ? await waitForImage(cfg, io, res.ImageId, 'creating') : undefined;
    if (flags.json) io.out(JSON.stringify({ ImageId: res.ImageId, RegionId: cfg.region, ...(status ? { Status: status } : {}) }));
    else io.out(status ? `Image ${res.ImageId} is ${status}` : `Creating image ${res.ImageId}; follow it with: imagehouse image show ${res.ImageId}`);
    return !status || status === 'Available' ? EXIT.ok : EXIT.rejected;
  }),
};

export const imageCopy: Command = {
  path: ['image', 'copy'],
  summary: 'Copy your image to another region (CopyImage)',
  usage: [
    'imagehouse image copy IMAGE_ID --to REGION [--name NAME] [--description D] [--wait] [--json]',
    '',
    'The copy gets a new ID in the destination region. With --wait, shows its progress until it is Available.',
    'Cancel a running copy with `imagehouse image cancel-copy NEW_IMAGE_ID --region DESTINATION`.',
    '',
    'Example:',
    '  imagehouse image copy m-bp1abc... --to cn-shanghai --name web-base-sh --wait',
  ].join('\n'),
  run: ({ flags, rest }, io) => withClient('image copy', flags, io, async (cfg) => {
    const id = oneId(rest, 'IMAGE_ID');
    const to = flag(flags, 'to');
    if (!to) throw new UsageError('--to REGION is required');
    const res = await callAction(cfg, 'CopyImage', {
      RegionId: cfg.region, ImageId: id, DestinationRegionId: to, DestinationImageName: flag(flags, 'name'), DestinationDescription: flag(flags, 'description'),
    });
    const status = flags.wait ? await waitForImage({ ...cfg, region: to }, io, res.ImageId, `copying to ${to}`) : undefined;
    if (flags.json) io.out(JSON.stringify({ ImageId: res.ImageId, RegionId: to, SourceImageId: id, ...(status ? { Status: status } : {}) }));
    else io.out(status ? `Image ${res.ImageId} in ${to} is ${status}` : `Copying ${id} to ${to} as ${res.ImageId}; follow it with: imagehouse image show ${res.ImageId} --region ${to}`);
    return !status || status === 'Available' ? EXIT.ok : EXIT.rejected;
  }),
};

export const imageCancelCopy: Command = {
  path: ['image', 'cancel-copy'],
  summary: 'Cancel a running copy; the unfinished image is removed (CancelCopyImage)',
  usage: 'imagehouse image cancel-copy NEW_IMAGE_ID --region DESTINATION [--json]\n\nExample:\n  imagehouse image cancel-copy m-uf6xyz... --region cn-shanghai',
  run: ({ flags, rest }, io) => withClient('image cancel-copy', flags, io, async (cfg) => {
    const id = oneId(rest, 'IMAGE_ID');
    await callAction(cfg, 'CancelCopyImage', { RegionId: cfg.region, ImageId: id });
    io.out(flags.json ? JSON.stringify({ ImageId: id, Cancelled: true }) : `${id}: copy cancelled`);
    return EXIT.ok;
  }),
};

function shareCommand(word: 'share' | 'unshare'): Command {
  const param = word === 'share' ? 'AddAccount' : 'RemoveAccount';
  return {
    path: ['image', word],
    summary: word === 'share' ? 'Share your image with other accounts (ModifyImageSharePermission)' : 'Stop sharing your image with accounts',
    usage: [
      `imagehouse image ${word} IMAGE_ID --account ACCOUNT_ID[,ACCOUNT_ID...] [--json]`,
      '',
      word === 'share'
        ? 'Up to 10 accounts per call; they see the image with `imagehouse image list --owner others`.'
        : 'Instances the accounts already launched keep running; they can no longer launch new ones or re-initialise disks.',
      '',
      'Example:',
      `  imagehouse image ${word} m-bp1abc... --account 1234567890123456`,
    ].join('\n'),
    run: ({ flags, rest }, io) => withClient(`image ${word}`, flags, io, async (cfg) => {
      const id = oneId(rest, 'IMAGE_ID');
      const list = accounts(flags);
      const params: Record<string, string> = { RegionId: cfg.region, ImageId: id };
      list.forEach((a, i) => { params[`${param}.${i + 1}`] = a; });
      await callAction(cfg, 'ModifyImageSharePermission', params);
      io.out(flags.json ? JSON.stringify({ ImageId: id, [word === 'share' ? 'Added' : 'Removed']: list }) : `${id}: ${word === 'share' ? 'shared with' : 'no longer shared with'} ${list.join(', ')}`);
      return EXIT.ok;
    }),
  };
}

export const imageShare = shareCommand('share');
export const imageUnshare = shareCommand('unshare');

export const imageShares: Command = {
  path: ['image', 'shares'],
  summary: 'List the accounts your image is shared with (DescribeImageSharePermission)',
  usage: 'imagehouse image shares IMAGE_ID [--json]\n\nExample:\n  imagehouse image shares m-bp1abc...',
  run: ({ flags, rest }, io) => withClient('image shares', flags, io, async (cfg) => {
    const id = oneId(rest, 'IMAGE_ID');
    const rows: any[] = [];
    for (let page = 1; ; page++) {
      const res = await callAction(cfg, 'DescribeImageSharePermission', { RegionId: cfg.region, ImageId: id, PageNumber: page, PageSize: 100 });
      rows.push(...res.Accounts.Account);
      if (rows.length >= res.TotalCount || res.Accounts.Account.length === 0) break;
    }
    if (flags.json) io.out(JSON.stringify(rows));
    else io.out(table(['ACCOUNT', 'SHARED'], rows.map((a) => [a.AliyunId, relativeTime(a.SharedTime)])));
    return EXIT.ok;
  }),
};
