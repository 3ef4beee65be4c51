/** One QEMU VM per running instance, and the live console of each instance's last VM. */
import { startVm, type Vm } from './qemu.ts';

/** The serial console kept per instance: GetInstanceConsoleOutput returns at most this much. */
export const CONSOLE_BYTES = 64 * 1024;
/** While a guest writes, its console is handed out for saving at most this often. */
export const CONSOLE_SAVE_INTERVAL_MS = 1000;

export interface QemuHypervisorOptions {
  maxVcpus: number;
  maxMemoryMiB: number;
  shutdownTimeoutMs: number;
  onError?: (err: unknown) => void;
}

export interface VmEvents {
  /** The console so far (the last CONSOLE_BYTES), at most every CONSOLE_SAVE_INTERVAL_MS while the guest writes. */
  console(output: Buffer): Promise<void> | void;
  /** The VM ended by itself or by stop(): why, and its final console. Never called for VMs ended by close(). */
  exited(reason: string, output: Buffer): Promise<void> | void;
}

interface Running {
  vm: Vm;
  /** Resolves once the VM's end has been reported, so stop() returns with the instance's state saved. */
  reported: Promise<void>;
}

export function qemuHypervisor(opts: QemuHypervisorOptions) {
  const running = new Map<string, Running>();
  let closing = false;
  // Once KVM has failed a guest on this host (nested KVM without unrestricted guest, say), later VMs go to TCG.
  let kvm = true;
  const report = async (p: () => Promise<void> | void) => {
    try {
      await p();
    } catch (e) {
      opts.onError?.(e);
    }
  };
  return {
    limits: { maxVcpus: opts.maxVcpus, maxMemoryMiB: opts.maxMemoryMiB, shutdownTimeoutMs: opts.shutdownTimeoutMs },
    start(instanceId: string, spec: { vcpus: number; memoryMiB: number; disks: string[] }, events: VmEvents): void {
      let saveTimer: NodeJS.Timeout | undefined;
      const current = () => running.get(instanceId)?.vm === vm && !closing;
      const vm: Vm = startVm({
        ...spec,
        consoleBytes: CONSOLE_BYTES,
        kvm,
        onKvmFailure: () => { kvm = false; },
        onOutput: () => {
          saveTimer ??= setTimeout(() => {
            saveTimer = undefined;
            if (current()) void report(() => events.console(vm.console()));
          }, CONSOLE_SAVE_INTERVAL_MS);
        },
      });
      // A VM replaced by a newer one of the same instance no longer speaks for it; one ended by close() leaves
      // its instance Running, to be booted again when the service starts.
      const reported = vm.exited.then(async (exit) => {
        clearTimeout(saveTimer);
        if (!current()) return;
        await report(() => events.exited(exit.reason, vm.console()));
        if (running.get(instanceId)?.vm === vm) running.delete(instanceId);
      });
      running.set(instanceId, { vm, reported });
    },
    async stop(instanceId: string): Promise<void> {
      const r = running.get(instanceId);
      if (!r) return;
      await r.vm.shutdown(opts.shutdownTimeoutMs);
      await r.reported;
    },
    /** The console of the instance's running VM, or undefined when none runs here. */
    console(instanceId: string): Buffer | undefined {
      return running.get(instanceId)?.vm.console();
    },
    /** Kills every VM (service shutdown), leaving their instances as they are. */
    async close(): Promise<void> {
      closing = true;
      await Promise.all([...running.values()].map((r) => r.vm.shutdown(0)));
    },
  };
}
