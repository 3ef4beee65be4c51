/**
 * What the services make of a VM's life, with a scripted hypervisor in place of QEMU (runs everywhere): the
 * VM's size from the instance type capped by the operator's limits, its disks over NBD (system first), its
 * console saved while it runs and when it ends, a VM that ends by itself or cannot boot sets its instance Stopped
 * with the reason, Start and Stop clear it, and DeleteInstance drops the saved console.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.ts';
import { callAction } from '../../src/cli/api.ts';
import { PUBLIC_X64 } from '../api/disks/support.ts';
import type { Hypervisor, VmEvents } from '../../src/services/context.ts';

interface Started {
  instanceId: string;
  spec: { vcpus: number; memoryMiB: number; disks: string[] };
  events: VmEvents;
}

function scriptedHypervisor() {
  const started: Started[] = [];
  const live = new Map<string, Buffer>();
  const latest = (instanceId: string) => started.filter((x) => x.instanceId === instanceId).pop();
  const hv: Hypervisor = {
    limits: { maxVcpus: 1, maxMemoryMiB: 300, shutdownTimeoutMs: 10 },
    start(instanceId, spec, events) {
      started.push({ instanceId, spec, events });
      live.set(instanceId, Buffer.from('booting\n'));
    },
    async stop(instanceId) {
      const s = latest(instanceId);
      if (!s || !live.has(instanceId)) return;
      live.delete(instanceId);
      await s.events.exited('the guest powered off', Buffer.from('booting\n[imagehouse] VM stopped: the guest powered off\n'));
    },
    console: (instanceId) => live.get(instanceId),
  };
  /** The VM of `instanceId` ends by itself. */
  const end = async (instanceId: string, reason: string, output: string) => {
    live.delete(instanceId);
    await latest(instanceId)!.events.exited(reason, Buffer.from(output));
  };
  return { hv, started, live, end };
}

test('a VM that ends or cannot boot stops its instance with the reason; consoles are saved and go with the instance', async () => {
  // A clock the test moves: the saved console keeps the time it was saved.
  let skew = 0;
  const server = await startServer({ clock: { now: () => Date.now() + skew } });
  try {
    const scripted = scriptedHypervisor();
    server.app.services.hypervisor = scripted.hv;
    const alice = await server.account('alice');
    const cfg = { endpoint: server.endpoint, region: 'cn-hangzhou', accessKeyId: alice.accessKeyId, accessKeySecret: alice.accessKeySecret };
    const call = (action: string, params: Record<string, string>) => callAction(cfg, action, params);
    const describe = async (id: string) => (await call('DescribeInstances', { RegionId: 'cn-hangzhou', InstanceIds: JSON.stringify([id]) })).Instances.Instance[0];
    const consoleText = async (id: string) => Buffer.from((await call('GetInstanceConsoleOutput', { RegionId: 'cn-hangzhou', InstanceId: id })).ConsoleOutput, 'base64').toString('utf8');

    const run = await call('RunInstances', { RegionId: 'cn-hangzhou', ImageId: PUBLIC_X64, InstanceType: 'ecs.g7.large', 'DataDisk.1.Size': '20' });
    const id: string = run.InstanceIdSets.InstanceIdSet[0];
    // ecs.g7.large asks for 2 vCPUs and 8 GiB: the operator's caps win. The system disk comes first.
    const [boot] = scripted.started;
    assert.deepEqual({ vcpus: boot.spec.vcpus, memoryMiB: boot.spec.memoryMiB }, { vcpus: 1, memoryMiB: 300 });
    const disks = (await call('DescribeDisks', { RegionId: 'cn-hangzhou', InstanceId: id })).Disks.Disk;
    const system = disks.find((d: any) => d.Type === 'system').DiskId;
    const data = disks.find((d: any) => d.Type === 'data').DiskId;
    assert.equal(boot.spec.disks.length, 2);
    assert.match(boot.spec.disks[0], new RegExp(`^nbd://127\\.0\\.0\\.1:${server.app.nbd.port()}/${system}\\.`));
    assert.match(boot.spec.disks[1], new RegExp(`/${data}\\.`));

    // While it runs, the console is the live one; what the VM hands out for saving is what a restart would show.
    assert.equal(await consoleText(id), 'booting\n');
    await boot.events.console(Buffer.from('booting\nhalfway\n'));
    assert.equal((await describe(id)).StopReason, '');

    // It crashes: Stopped, the reason stored, and the final console is the saved one.
    await scripted.end(id, 'qemu exited with signal SIGSEGV', 'booting\nhalfway\n[imagehouse] VM stopped: qemu exited with signal SIGSEGV\n');
    const crashed = await describe(id);
    assert.deepEqual([crashed.Status, crashed.StopReason], ['Stopped', 'qemu exited with signal SIGSEGV']);
    assert.match(await consoleText(id), /halfway\n\[imagehouse\] VM stopped: qemu exited with signal SIGSEGV/);
    const savedAt = (await call('GetInstanceConsoleOutput', { RegionId: 'cn-hangzhou', InstanceId: id })).LastUpdateTime;
    skew = 120_000;
    assert.equal((await call('GetInstanceConsoleOutput', { RegionId: 'cn-hangzhou', InstanceId: id })).LastUpdateTime, savedAt);
    assert.ok(Date.parse(savedAt) < Date.now() + skew - 60_000, 'the time it was saved, not now');

    // StartInstance clears the reason; StopInstance stops the VM and leaves none (it was asked to stop).
    await call('StartInstance', { InstanceId: id });
    assert.deepEqual([(await describe(id)).Status, (await describe(id)).StopReason], ['Running', '']);
    await call('StopInstance', { InstanceId: id });
    assert.deepEqual([(await describe(id)).Status, (await describe(id)).StopReason], ['Stopped', '']);
    assert.match(await consoleText(id), /VM stopped: the guest powered off/);

    // Without its NBD listener an instance cannot boot: Stopped at once, and why.
    await server.app.nbd.close();
    await call('StartInstance', { InstanceId: id });
    const failed = await describe(id);
    assert.equal(failed.Status, 'Stopped');
    assert.match(failed.StopReason, /^boot failed: the NBD listener/);
    assert.equal(scripted.started.length, 2, 'no VM was started');

    // DeleteInstance takes the saved console with it.
    await call('DeleteInstance', { InstanceId: id });
    const left = await server.app.services.db.selectFrom('instance_consoles').selectAll().where('instance_id', '=', id).execute();
    assert.deepEqual(left, []);
  } finally {
    await server.stop();
  }
});
