/**
 * Instances as VMs, when the operator enables a hypervisor: a started instance boots with its disks over NBD
 * (the service's own export tokens), vCPUs and memory from its type capped by the operator's limits; a VM that
 * ends sets its instance Stopped (the reason is the last console line). Without a hypervisor these are no-ops.
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
  if (!port) throw new Error('the NBD listener is not running');
  const type = services.instanceTypes.find((t) => t.InstanceTypeId === instance.instance_type);
  const vcpus = Math.max(1, Math.min(type?.CpuCoreCount ?? 1, hv.limits.maxVcpus));
  const memoryMiB = Math.max(128, Math.min(Math.round((type?.MemorySize ?? 1) * 1024), hv.limits.maxMemoryMiB));
  const uris = disks.map((d) => `nbd://127.0.0.1:${port}/${internalNbdToken(services, d).exportName}`);
  // The runner appends why the VM ended to its console.
  hv.start(instanceId, { vcpus, memoryMiB, disks: uris }, () => {
    void services.db.updateTable('instances').set({ status: 'Stopped', updated_at: services.clock.now() })
      .where('id', '=', instanceId).where('status', '=', 'Running').execute();
  });
}

export async function haltInstance(services: Services, instanceId: string): Promise<void> {
  await services.hypervisor?.stop(instanceId);
}
