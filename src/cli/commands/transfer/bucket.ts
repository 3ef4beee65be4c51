/** `imagehouse bucket create|ls|put|get`: object buckets, the service's stand-in for OSS. */
import fs from 'node:fs';
import path from 'node:path';
import { EXIT, type Command } from '../../command.ts';
import { table } from '../../format.ts';
import { createBucket, getObject, listAllObjects, listBuckets, putObject } from './client.ts';
import { ProgressBar, terminalWriter } from './progress.ts';
import { UsageError, flag, withClient } from './run.ts';

export const bucketCreate: Command = {
  path: ['bucket', 'create'],
  summary: 'Create a bucket in the region (names: 3-63 of a-z, 0-9 and -)',
  usage: 'imagehouse bucket create NAME [--region R] [--json]\n\nExample:\n  imagehouse bucket create my-images --region cn-hangzhou',
  run: ({ flags, rest }, io) => withClient('bucket create', flags, io, async (cfg) => {
    if (rest.length !== 1) throw new UsageError('give one bucket NAME');
    const b = await createBucket(cfg, rest[0]);
    if (flags.json) io.out(JSON.stringify({ name: b.Name, regionId: b.RegionId, creationTime: b.CreationTime }));
    else io.out(`Created bucket ${b.Name} in ${b.RegionId}`);
    return EXIT.ok;
  }),
};

export const bucketList: Command = {
  path: ['bucket', 'ls'],
  summary: 'List your buckets, or the objects in one bucket',
  usage: 'imagehouse bucket ls [BUCKET] [--prefix P] [--json]\n\nExamples:\n  imagehouse bucket ls\n  imagehouse bucket ls my-images --prefix exports/ --json',
  run: ({ flags, rest }, io) => withClient('bucket ls', flags, io, async (cfg) => {
    if (rest.length > 1) throw new UsageError('give at most one BUCKET');
    if (rest.length === 0) {
      const buckets = await listBuckets(cfg);
      if (flags.json) io.out(JSON.stringify(buckets.map((b) => ({ name: b.Name, regionId: b.RegionId, creationTime: b.CreationTime }))));
      else io.out(table(['NAME', 'REGION', 'CREATED'], buckets.map((b) => [b.Name, b.RegionId, b.CreationTime])));
      return EXIT.ok;
    }
    const objects = await listAllObjects(cfg, rest[0], flag(flags, 'prefix'));
    if (flags.json) io.out(JSON.stringify(objects.map((o) => ({ key: o.Key, size: o.Size, lastModified: o.LastModified }))));
    else io.out(table(['KEY', 'SIZE', 'MODIFIED'], objects.map((o) => [o.Key, String(o.Size), o.LastModified])));
    return EXIT.ok;
  }),
};

export const bucketPut: Command = {
  path: ['bucket', 'put'],
  summary: 'Upload a file as an object (key defaults to the file name)',
  usage: 'imagehouse bucket put BUCKET FILE [--key KEY] [--json]\n\nExample:\n  imagehouse bucket put my-images ./disk.qcow2 --key images/disk.qcow2',
  run: ({ flags, rest }, io) => withClient('bucket put', flags, io, async (cfg) => {
    if (rest.length !== 2) throw new UsageError('give BUCKET and FILE');
    const [bucket, file] = rest;
    const size = fs.statSync(file).size;
    const key = flag(flags, 'key') ?? path.basename(file);
    const bar = new ProgressBar(io, `uploading ${key}`, size, { write: terminalWriter(io) });
    const res = await putObject(cfg, bucket, key, file, (n) => bar.add(n));
    bar.finish();
    if (flags.json) io.out(JSON.stringify({ bucket, key, size: res.Size }));
    else io.out(`Uploaded ${file} to ${bucket}/${key} (${res.Size} bytes)`);
    return EXIT.ok;
  }),
};

export const bucketGet: Command = {
  path: ['bucket', 'get'],
  summary: 'Download an object to a file (default: its base name in the current directory)',
  usage: 'imagehouse bucket get BUCKET KEY [--output FILE] [--json]\n\nExample:\n  imagehouse bucket get my-images exports/m-bp1..._t-bp1....qcow2 --output disk.qcow2',
  run: ({ flags, rest }, io) => withClient('bucket get', flags, io, async (cfg) => {
    if (rest.length !== 2) throw new UsageError('give BUCKET and KEY');
    const [bucket, key] = rest;
    const output = flag(flags, 'output') ?? path.basename(key);
    const size = await getObject(cfg, bucket, key, output);
    if (flags.json) io.out(JSON.stringify({ bucket, key, file: output, size }));
    else io.out(`Downloaded ${bucket}/${key} to ${output} (${size} bytes)`);
    return EXIT.ok;
  }),
};
