/**
 * IMAGEHOUSE_HYPERVISOR=qemu: RunInstances boots the instance (here an empty disk, which never powers off, so
 * StopInstance's ACPI shutdown ends in a kill); the boot image written into the system disk boots on
 * StartInstance over NBD, prints its marker and powers off, the instance becomes Stopped, and
 * GetInstanceConsoleOutput (official SDK) returns the console with the marker and the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../support/server.ts';
import { Ecs, ecsClient } from '../support/sdk.ts';
import { dataConfig, launch, putBytes } from '../api/disks/support.ts';
import { runCli } from '../support/cli.ts';
import { requires } from '../support/requires.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/make-boot-image.sh');
const skip = requires('boot-image');

async function status(client: any, instanceId: string): Promise<string> {
  const r = await client.describeInstances(new Ecs.DescribeInstancesRequest({ regionId: 'cn-hangzhou', instanceIds: JSON.stringify([instanceId]) }));
  return r.body.instances.instance[0].status;
}

test('instances run in QEMU: stop kills a stuck guest, start boots the disk, the console comes back', { skip }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-vm-e2e-'));
  const server = await startServer({ env: { IMAGEHOUSE_HYPERVISOR: 'qemu', IMAGEHOUSE_VM_MAX_MEMORY_MIB: '256', IMAGEHOUSE_VM_MAX_VCPUS: '1', IMAGEHOUSE_VM_SHUTDOWN_TIMEOUT_MS: '2000' } });
  try {
    const image = path.join(tmp, 'boot.raw');
    execFileSync(SCRIPT, [image, 'VM-MARKER-A']);
    const alice = await server.account('alice');
    const client = ecsClient(server.hostPort, alice);
    const { instanceId, system } = await launch(client);
    assert.equal(await status(client, instanceId), 'Running');
    await client.stopInstance(new Ecs.StopInstanceRequest({ instanceId }));
    assert.equal(await status(client, instanceId), 'Stopped');

    await putBytes(dataConfig(server, alice), system.diskId, 0, fs.readFileSync(image));
    await client.startInstance(new Ecs.StartInstanceRequest({ instanceId }));
    let s = 'Running';
    for (let i = 0; i < 480 && s === 'Running'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      s = await status(client, instanceId);
    }
    assert.equal(s, 'Stopped');
    const out = await client.getInstanceConsoleOutput(new Ecs.GetInstanceConsoleOutputRequest({ regionId: 'cn-hangzhou', instanceId }));
    const text = Buffer.from(out.body.consoleOutput, 'base64').toString('utf8');
    assert.match(text, /IMAGEHOUSE-MARKER: VM-MARKER-A/, text);
    assert.match(text, /VM stopped: the guest powered off/);
    // The CLI prints the same console (and --follow ends because the instance is no longer Running).
    const cli = await runCli(['instance', 'console', instanceId, '--follow'], {
      IMAGEHOUSE_ENDPOINT: server.endpoint, IMAGEHOUSE_ACCESS_KEY_ID: alice.accessKeyId, IMAGEHOUSE_ACCESS_KEY_SECRET: alice.accessKeySecret, IMAGEHOUSE_REGION: 'cn-hangzhou',
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /IMAGEHOUSE-MARKER: VM-MARKER-A/);
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
