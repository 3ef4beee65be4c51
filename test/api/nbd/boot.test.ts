/**
 * A VM boots from disks served over NBD: scripts/make-boot-image.sh's image is written into an instance's
 * system disk through the HTTP content endpoint, a marker into its data disk, and qemu-system-x86_64 (TCG)
 * boots both exports; the serial console shows the image's marker and the data disk's bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../../support/server.ts';
import { Ecs, ecsClient } from '../../support/sdk.ts';
import { dataRequest } from '../../../src/cli/api.ts';
import { dataConfig, launch, putBytes } from '../disks/support.ts';
import { requires } from '../../support/requires.ts';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../../scripts/make-boot-image.sh');
const skip = requires('boot-image');

test('qemu boots an instance disk served over NBD and reads its data disk', { skip }, async () => {
  const server = await startServer();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-nbd-boot-'));
  try {
    const image = path.join(tmp, 'boot.raw');
    await run(SCRIPT, [image, 'MARKER-NBD-A']);
    const alice = await server.account('alice');
    const cfg = dataConfig(server, alice);
    const { system, data } = await launch(ecsClient(server.hostPort, alice), {
      dataDisk: [new Ecs.RunInstancesRequestDataDisk({ size: 1, category: 'cloud_essd', performanceLevel: 'PL0' })],
    });
    await putBytes(cfg, system.diskId, 0, fs.readFileSync(image));
    await putBytes(cfg, data[0].diskId, 0, Buffer.from('DATA-OVER-NBD\n'));
    const uri = async (diskId: string) => ((await (await dataRequest(cfg, 'POST', `/disks/${diskId}/nbd-token`, {})).json()) as any).Uri as string;
    const [sys, dat] = [await uri(system.diskId), await uri(data[0].diskId)];

    const vm = spawn('qemu-system-x86_64', [
      '-machine', 'q35,accel=tcg', '-m', '256', '-smp', '1', '-nographic', '-nodefaults', '-no-reboot', '-serial', 'stdio',
      '-drive', `file=${sys},format=raw,if=virtio`, '-drive', `file=${dat},format=raw,if=virtio`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    vm.stdout.on('data', (d) => (out += d));
    vm.stderr.on('data', (d) => (out += d));
    const killer = setTimeout(() => vm.kill('SIGKILL'), 240_000);
    const code = await new Promise<number | null>((resolve) => vm.on('exit', resolve));
    clearTimeout(killer);
    assert.match(out, /IMAGEHOUSE-MARKER: MARKER-NBD-A/, out);
    assert.match(out, /IMAGEHOUSE-DATA: DATA-OVER-NBD/, out);
    assert.match(out, /IMAGEHOUSE-DONE/);
    assert.equal(code, 0);
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
