/**
 * Issue 16's boot story, through the official SDK with IMAGEHOUSE_HYPERVISOR=qemu (TCG on CI): every step is
 * proven by what the guest prints on its serial console. One boot image is built; marker B is the same image
 * with its marker area rewritten. The guest prints its marker, the first bytes of its data disk, and powers off,
 * so each boot ends with the instance Stopped.
 *   1. ImportImage (qcow2, marker A) → RunInstances → the console shows A.
 *   2. `imagehouse disk write` a marker to the data disk → StartInstance → the console shows it.
 *   3. CreateImage from the instance → launch it → the data disk's marker is there.
 *   4. ImportImage of marker B → ReplaceSystemDisk → B.
 *   5. The system disk is dirtied, ReInitDisk → B again, from a clean disk.
 *   6. ExportImage as VHD, ImportImage of it → it boots.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServerWith } from '../support/server.ts';
import { Ecs } from '../support/sdk.ts';
import { needing } from '../support/requires.ts';
import { waitFor } from '../support/wait.ts';
import { runCli } from '../support/cli.ts';
import { getBytes } from '../api/disks/support.ts';
import { clientConfig, REGION, settledImage, settledTask } from './transfer-support.ts';
import { createBucket, getObject, putObject } from '../../src/cli/commands/transfer/client.ts';

const { test } = needing('boot-image', 'qemu-img');
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/make-boot-image.sh');
/** One TCG boot of the test image takes about 10 s on an idle machine, minutes on a crowded one; this only guards against a hang. */
const BOOT_TIMEOUT_MS = 300_000;

/** Builds the boot image once and returns it with the byte offset of its marker (the script reports it). */
function buildBootImage(dir: string): { file: string; markerOffset: number } {
  const file = path.join(dir, 'boot.raw');
  const built = spawnSync(SCRIPT, [file, 'MARKER-A'], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  return { file, markerOffset: Number(/marker at byte (\d+)/.exec(built.stderr)![1]) };
}

test('the boot story: import, run, write, image, replace, re-initialise, export as VHD — each proven by a boot', { timeout: 20 * 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-vm-story-'));
  const { server, accounts, ecs } = await startServerWith(['alice'], {
    env: { IMAGEHOUSE_HYPERVISOR: 'qemu', IMAGEHOUSE_VM_MAX_MEMORY_MIB: '192', IMAGEHOUSE_VM_MAX_VCPUS: '1', IMAGEHOUSE_VM_SHUTDOWN_TIMEOUT_MS: '2000' },
  });
  const a = ecs.alice;
  const cfg = clientConfig(server.endpoint, accounts.alice);
  const cli = (args: string[]) => runCli(args, {
    IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: accounts.alice.accessKeyId,
    IMAGEHOUSE_ACCESS_KEY_SECRET: accounts.alice.accessKeySecret, IMAGEHOUSE_REGION: REGION,
  });
  try {
    const boot = buildBootImage(dir);
    const bucket = 'alice-boot';
    await createBucket(cfg, bucket);
    /** The boot image with `marker` in its marker area, uploaded in `format` (a qemu-img name). */
    const upload = async (marker: string, format: 'qcow2' | 'vpc', object: string) => {
      const raw = path.join(dir, `${object}.raw`);
      fs.copyFileSync(boot.file, raw);
      const fd = fs.openSync(raw, 'r+');
      fs.writeSync(fd, Buffer.from(`${marker}\n`.padEnd(512, '\0')), 0, 512, boot.markerOffset);
      fs.closeSync(fd);
      const file = path.join(dir, object);
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, raw, file]);
      await putObject(cfg, bucket, object, file);
    };
    const importImage = async (object: string, format: string) => {
      const r = await a.importImage(new Ecs.ImportImageRequest({
        regionId: REGION, imageName: object.replace(/\W/g, '_'), platform: 'Others Linux', osType: 'linux', architecture: 'x86_64',
        diskDeviceMapping: [new Ecs.ImportImageRequestDiskDeviceMapping({ OSSBucket: bucket, OSSObject: object, format, diskImageSize: 1 })],
      }));
      const image = await settledImage(a, r.body.imageId, REGION, BOOT_TIMEOUT_MS);
      assert.equal(image.status, 'Available', object);
      return r.body.imageId as string;
    };
    const describe = async (instanceId: string) =>
      (await a.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: REGION, instanceIds: JSON.stringify([instanceId]) }))).body.instances.instance[0];
    const disks = async (instanceId: string) => {
      const all = (await a.describeDisks(new Ecs.DescribeDisksRequest({ regionId: REGION, instanceId }))).body.disks.disk;
      return { system: all.find((d: any) => d.type === 'system'), data: all.find((d: any) => d.type === 'data') };
    };
    /** Waits for the guest to power off (the instance becomes Stopped) and returns what it printed. */
    const bootOutput = async (instanceId: string) => {
      await waitFor(async () => (await describe(instanceId)).status === 'Stopped', { what: `${instanceId} to power off`, timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 250 });
      const out = await a.getInstanceConsoleOutput(new Ecs.GetInstanceConsoleOutputRequest({ regionId: REGION, instanceId }));
      const text = Buffer.from(out.body.consoleOutput, 'base64').toString('utf8');
      assert.match(text, /IMAGEHOUSE-DONE/, text);
      return {
        marker: /IMAGEHOUSE-MARKER: (.*)/.exec(text)?.[1].trim(),
        data: /IMAGEHOUSE-DATA: (.*)/.exec(text)?.[1].trim(),
        text,
      };
    };
    const start = (instanceId: string) => a.startInstance(new Ecs.StartInstanceRequest({ instanceId }));
    const run = async (imageId: string, withDataDisk: boolean) => {
      const r = await a.runInstances(new Ecs.RunInstancesRequest({
        regionId: REGION, imageId, instanceType: 'ecs.g7.large',
        ...(withDataDisk ? { dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 20, category: 'cloud_essd' })] } : {}),
      }));
      return r.body.instanceIdSets.instanceIdSet[0] as string;
    };

    // 1. The qcow2 import of marker A boots and prints A; the fresh data disk reads as zeros.
    await upload('MARKER-A', 'qcow2', 'boot-a.qcow2');
    const imageA = await importImage('boot-a.qcow2', 'QCOW2');
    const first = await run(imageA, true);
    const boot1 = await bootOutput(first);
    assert.equal(boot1.marker, 'MARKER-A');
    assert.equal(boot1.data, '');

    // 2. A marker written with the CLI into the data disk shows on the next boot.
    const dataMarker = path.join(dir, 'data-marker.txt');
    fs.writeFileSync(dataMarker, 'DATA-WRITTEN-BY-DISK-WRITE\n');
    const { system: system1, data: data1 } = await disks(first);
    const written = await cli(['disk', 'write', data1.diskId, dataMarker]);
    assert.equal(written.code, 0, written.stderr);
    await start(first);
    const boot2 = await bootOutput(first);
    assert.equal(boot2.marker, 'MARKER-A');
    assert.equal(boot2.data, 'DATA-WRITTEN-BY-DISK-WRITE');

    // 3. An image of the instance carries the data disk: an instance launched from it prints the data.
    const made = await a.createImage(new Ecs.CreateImageRequest({ regionId: REGION, instanceId: first, imageName: 'boot_with_data' }));
    assert.equal((await settledImage(a, made.body.imageId, REGION, BOOT_TIMEOUT_MS)).status, 'Available');
    const second = await run(made.body.imageId, false);
    const boot3 = await bootOutput(second);
    assert.equal(boot3.marker, 'MARKER-A');
    assert.equal(boot3.data, 'DATA-WRITTEN-BY-DISK-WRITE');

    // 4. ReplaceSystemDisk with the marker B image: B boots, and the data disk is untouched.
    await upload('MARKER-B', 'qcow2', 'boot-b.qcow2');
    const imageB = await importImage('boot-b.qcow2', 'QCOW2');
    await a.replaceSystemDisk(new Ecs.ReplaceSystemDiskRequest({ instanceId: first, imageId: imageB }));
    const { system: systemB } = await disks(first);
    assert.notEqual(systemB.diskId, system1.diskId);
    await start(first);
    const boot4 = await bootOutput(first);
    assert.equal(boot4.marker, 'MARKER-B');
    assert.equal(boot4.data, 'DATA-WRITTEN-BY-DISK-WRITE');

    // 5. The system disk's marker is overwritten; ReInitDisk brings back the image's B.
    const dirty = path.join(dir, 'dirty.txt');
    fs.writeFileSync(dirty, 'DIRTY\n');
    const dirtied = await cli(['disk', 'write', systemB.diskId, dirty, '--offset', String(boot.markerOffset)]);
    assert.equal(dirtied.code, 0, dirtied.stderr);
    assert.equal((await getBytes(cfg, systemB.diskId, boot.markerOffset, 6)).toString(), 'DIRTY\n');
    await a.reInitDisk(new Ecs.ReInitDiskRequest({ diskId: systemB.diskId }));
    await start(first);
    assert.equal((await bootOutput(first)).marker, 'MARKER-B');

    // 6. Image B exported as VHD and imported back boots.
    const exp = await a.exportImage(new Ecs.ExportImageRequest({ regionId: REGION, imageId: imageB, OSSBucket: bucket, OSSPrefix: 'export', imageFormat: 'VHD' }));
    const task = await settledTask(a, exp.body.taskId);
    assert.equal(task.taskStatus, 'Finished');
    const key: string = task.operationProgressSet.operationProgress[0].relatedItemSet.relatedItem.find((r: any) => r.name === 'OSSObject').value;
    const vhd = path.join(dir, 'export.vhd');
    await getObject(cfg, bucket, key, vhd);
    assert.equal(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', vhd], { encoding: 'utf8' })).format, 'vpc');
    const imported = await importImage(key, 'VHD');
    const third = await run(imported, false);
    assert.equal((await bootOutput(third)).marker, 'MARKER-B');
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
