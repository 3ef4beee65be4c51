/** One QEMU VM per running instance, and the console of each instance's last VM (kept in memory). */
import { startVm, type Vm } from './qemu.ts';

/** The serial console kept per instance: GetInstanceConsoleOutput returns at most this much. */
export const CONSOLE_BYTES = 64 * 1024;

export interface QemuHypervisorOptions {
  maxVcpus: number;
  maxMemoryMiB: number;
  shutdownTimeoutMs: number;
  onError?: (err: unknown) => void;
}

export function qemuHypervisor(opts: QemuHypervisorOptions) {
  const vms = new Map<string, Vm>();
  return {
    limits: { maxVcpus: opts.maxVcpus, maxMemoryMiB: opts.maxMemoryMiB, shutdownTimeoutMs: opts.shutdownTimeoutMs },
    start(instanceId: string, spec: { vcpus: number; memoryMiB: number; disks: string[] }, onExit: (reason: string) => void): void {
      const vm = startVm({ ...spec, consoleBytes: CONSOLE_BYTES });
      vms.set(instanceId, vm);
      void vm.exited.then((exit) => {
        // A VM replaced by a newer one of the same instance no longer speaks for it.
        if (vms.get(instanceId) !== vm) return;
        try {
          onExit(exit.reason);
        } catch (e) {
          opts.onError?.(e);
        }
      });
    },
    async stop(instanceId: string): Promise<void> {
      const vm = vms.get(instanceId);
      if (vm) await vm.shutdown(opts.shutdownTimeoutMs);
    },
    console(instanceId: string): Buffer | undefined {
      return vms.get(instanceId)?.console();
    },
    /** Kills every VM (service shutdown). */
    async close(): Promise<void> {
      await Promise.all([...vms.values()].map((vm) => vm.shutdown(0)));
    },
  };
}
