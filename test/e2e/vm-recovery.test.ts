/**
 * IMAGEHOUSE_HYPERVISOR=qemu across VM deaths and service restarts, with the service as a child process:
 * a VM killed under its instance sets it Stopped with the reason (DescribeInstances `StopReason`, and the
 * console's last line); the console outlives a restart; a service killed with -9 takes its VMs with it, and the
 * next start boots the instances the store still has Running.
 * The instances boot an empty disk: SeaBIOS finds nothing to boot and waits (silently: it has no serial console),
 * so the VM runs until it is killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/services/accounts.ts';
import { callAction } from '../../src/cli/api.ts';
import { spawnServer, type ChildServer } from '../support/child-server.ts';
import { requires } from '../support/requires.ts';
import { waitFor } from '../support/wait.ts';
import { PUBLIC_X64 } from '../api/disks/support.ts';

const skip = requires('boot-image');
const ENV = { IMAGEHOUSE_HYPERVISOR: 'qemu', IMAGEHOUSE_VM_MAX_MEMORY_MIB: '128', IMAGEHOUSE_VM_MAX_VCPUS: '1', IMAGEHOUSE_VM_SHUTDOWN_TIMEOUT_MS: '1000' };
const GUARD = { timeoutMs: 120_000, intervalMs: 200 };

/** PIDs of the QEMU processes the server started (its children). */
function vmsOf(server: ChildServer): number[] {
  const children = fs.readFileSync(`/proc/${server.process.pid}/task/${server.process.pid}/children`, 'utf8').trim();
  return children ? children.split(/\s+/).map(Number).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('qemu');
    } catch {
      return false;
    }
  }) : [];
}

function alive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

test('a killed VM stops its instance with the reason; consoles survive restarts; Running instances boot again after a crash', { skip, timeout: 10 * 60_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-vm-recovery-'));
  let server: ChildServer | undefined;
  try {
    const seed = await createApp(loadConfig({ data: dataDir }, {}), { logger: false, worker: false });
    const alice = await createAccount(seed.services, { name: 'alice' });
    await seed.close();

    server = await spawnServer(dataDir, ENV);
    const cfg = () => ({ endpoint: server!.endpoint, region: 'cn-hangzhou', accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret });
    const call = (action: string, params: Record<string, string>) => callAction(cfg(), action, params);
    const describe = async (id: string) => (await call('DescribeInstances', { RegionId: 'cn-hangzhou', InstanceIds: JSON.stringify([id]) })).Instances.Instance[0];
    const consoleText = async (id: string) => Buffer.from((await call('GetInstanceConsoleOutput', { RegionId: 'cn-hangzhou', InstanceId: id })).ConsoleOutput, 'base64').toString('utf8');

    const run = await call('RunInstances', { RegionId: 'cn-hangzhou', ImageId: PUBLIC_X64, InstanceType: 'ecs.g7.large' });
    const id: string = run.InstanceIdSets.InstanceIdSet[0];
    assert.equal((await describe(id)).Status, 'Running');

    // The VM dies under its instance: Stopped, and why.
    const [first] = await waitFor(() => vmsOf(server!).length === 1 && vmsOf(server!), { what: 'the VM process', ...GUARD });
    process.kill(first, 'SIGKILL');
    const stopped = await waitFor(async () => { const i = await describe(id); return i.Status === 'Stopped' && i; }, { what: 'Stopped', ...GUARD });
    assert.match(stopped.StopReason, /signal SIGKILL/);
    const dead = await consoleText(id);
    assert.match(dead, /\[imagehouse\] VM stopped: qemu exited with signal SIGKILL/);

    // The console and the reason survive a restart.
    await server.stop();
    server = await spawnServer(dataDir, ENV);
    assert.equal(await consoleText(id), dead);
    assert.match((await describe(id)).StopReason, /signal SIGKILL/);

    // A started instance has no stop reason; a service killed with -9 takes its VM with it.
    await call('StartInstance', { InstanceId: id });
    assert.equal((await describe(id)).StopReason, '');
    const [second] = await waitFor(() => vmsOf(server!).length === 1 && vmsOf(server!), { what: 'the VM process', ...GUARD });
    await server.kill9();
    await waitFor(() => !alive(second), { what: 'the VM to die with its service', ...GUARD });

    // The next start boots the instance the store has Running.
    server = await spawnServer(dataDir, ENV);
    assert.equal((await describe(id)).Status, 'Running');
    await waitFor(() => vmsOf(server!).length === 1, { what: 'the VM booted again', ...GUARD });
    // The console is the new VM's (still empty), no longer the last one's.
    assert.doesNotMatch(await consoleText(id), /VM stopped/);

    // StopInstance: Stopped with no reason (it was asked to), and the VM is gone.
    await call('StopInstance', { InstanceId: id });
    const asked = await describe(id);
    assert.equal(asked.Status, 'Stopped');
    assert.equal(asked.StopReason, '');
    assert.deepEqual(vmsOf(server), []);
  } finally {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
