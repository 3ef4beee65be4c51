/**
 * Instances as VMs, when the operator enables a hypervisor: a started instance boots with its disks over NBD
 * (the service's own export tokens), vCPUs and memory from its type capped by the operator's limits. Its console
 * is saved as it runs (instance_consoles), so it outlives the VM and the service. A VM that ends by itself, or
 * cannot start, sets its instance Stopped with the reason in `stop_reason`. Without a hypervisor these are no-ops.
 */
import type { Services } from '../context.ts';
import { internalNbdToken } from './nbd-exports.ts';

export async function bootInstance(services: Services, instanceId: string): Promise<void> {
  const hv = services.hypervisor;
  if (!hv) return;
  const instance = await services.db.selectFrom('instances').selectAll().where('id', '=', instanceId).executeTakeFirstOrThrow();
  const disks = await services.db.selectFrom('disks').selectAll().where('instance_id', '=', instanceId).execute();
  disks.sort((a, b) => (a.type === b.type ? (a.device < b.device ? -1 : 1) : a.type === 'system' ? -1 : 1));
  const port = services.nbd.port();
  if (!port) {
    await stopWithReason(services, instanceId, 'boot failed: the NBD listener for its disks is not running');
    return;
  }
  const type = services.instanceTypes.find((t) => t.InstanceTypeId === instance.instance_type);
  const vcpus = Math.max(1, Math.min(type?.CpuCoreCount ?? 1, hv.limits.maxVcpus));
  const memoryMiB = Math.max(128, Math.min(Math.round((type?.MemorySize ?? 1) * 1024), hv.limits.maxMemoryMiB));
  const uris = disks.map((d) => `nbd://127.0.0.1:${port}/${internalNbdToken(services, d).exportName}`);
  hv.start(instanceId, { vcpus, memoryMiB, disks: uris }, {
    console: (output) => saveConsole(services, instanceId, output),
    // The runner has appended why the VM ended to its console. An instance already Stopped (StopInstance)
    // keeps an empty reason: it was asked to stop.
    exited: async (reason, output) => {
      await saveConsole(services, instanceId, output);
      await stopWithReason(services, instanceId, reason);
    },
  });
}

export async function haltInstance(services: Services, instanceId: string): Promise<void> {
  await services.hypervisor?.stop(instanceId);
}

/**
 * After a service restart: VMs die with the service (QEMU runs with a parent-death signal), so instances the
 * store still has Running are booted again, as a cloud host does after it comes back.
 */
export async function resumeRunningInstances(services: Services): Promise<number> {
  if (!services.hypervisor) return 0;
  const rows = await services.db.selectFrom('instances').select('id').where('status', '=', 'Running').execute();
  for (const r of rows) await bootInstance(services, r.id);
  return rows.length;
}

/**
 * The serial console of the instance's running VM (as of now), else the one saved from its last VM, as of its
 * saving; empty, as of now, if it never ran.
 */
export async function instanceConsole(services: Services, instanceId: string): Promise<{ output: Buffer; at: number }> {
  const live = services.hypervisor?.console(instanceId);
  if (live) return { output: live, at: services.clock.now() };
  const saved = await services.db.selectFrom('instance_consoles').select(['output_base64', 'updated_at']).where('instance_id', '=', instanceId).executeTakeFirst();
  return saved ? { output: Buffer.from(saved.output_base64, 'base64'), at: Number(saved.updated_at) } : { output: Buffer.alloc(0), at: services.clock.now() };
}

async function stopWithReason(services: Services, instanceId: string, reason: string): Promise<void> {
  await services.db.updateTable('instances').set({ status: 'Stopped', stop_reason: reason, updated_at: services.clock.now() })
    .where('id', '=', instanceId).where('status', '=', 'Running').execute();
}

async function saveConsole(services: Services, instanceId: string, output: Buffer): Promise<void> {
  const row = { instance_id: instanceId, output_base64: output.toString('base64'), updated_at: services.clock.now() };
  // The instance may have been deleted while its VM ran: its console is not kept then.
  const exists = await services.db.selectFrom('instances').select('id').where('id', '=', instanceId).executeTakeFirst();
  if (!exists) return;
  await services.db.insertInto('instance_consoles').values(row)
    .onConflict((oc) => oc.column('instance_id').doUpdateSet({ output_base64: row.output_base64, updated_at: row.updated_at })).execute();
}
