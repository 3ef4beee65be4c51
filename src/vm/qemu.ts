/**
 * Runs one QEMU virtual machine (qemu-system-x86_64: KVM when /dev/kvm is usable and runs the guest, else TCG) with its disks
 * given as QEMU file names (nbd://… exports or paths), its serial console captured into a bounded ring, and a
 * QMP socket for an ACPI shutdown (`system_powerdown`) followed by a kill after a timeout. Infrastructure only:
 * which instance runs, with what, and what its end means, is decided by the services.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface VmSpec {
  vcpus: number;
  memoryMiB: number;
  /** QEMU file names, the boot disk first; each becomes a virtio disk (vda, vdb, …). */
  disks: string[];
  /** Bytes of serial output kept (the last ones). */
  consoleBytes: number;
  qemuBinary?: string;
  /** Called whenever the guest writes to its console. */
  onOutput?: () => void;
  /** False: run under TCG even where /dev/kvm is usable (a host where KVM failed a guest before). */
  kvm?: boolean;
  /** Called when KVM could not run the guest and the VM was started again under TCG. */
  onKvmFailure?: () => void;
}

export interface VmExit {
  code: number | null;
  signal: string | null;
  /** Why it ended, in words: guest power-off, killed after the shutdown timeout, crashed … */
  reason: string;
}

export interface Vm {
  readonly pid: number | undefined;
  readonly accelerator: 'kvm' | 'tcg';
  /** The last `consoleBytes` bytes of the serial console. */
  console(): Buffer;
  readonly exited: Promise<VmExit>;
  /** ACPI power button, then SIGKILL when the guest has not powered off within `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<VmExit>;
}

/** A byte ring that keeps the last `size` bytes written to it. */
export class ConsoleRing {
  private parts: Buffer[] = [];
  private length = 0;

  constructor(private readonly size: number) {}

  push(data: Buffer): void {
    this.parts.push(data);
    this.length += data.length;
    while (this.length - this.parts[0].length >= this.size) this.length -= this.parts.shift()!.length;
  }

  bytes(): Buffer {
    const all = Buffer.concat(this.parts);
    return all.subarray(Math.max(0, all.length - this.size));
  }
}

/** util-linux's setpriv (in every Debian), which sets the parent-death signal before it runs QEMU. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export function kvmUsable(): boolean {
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Sends one QMP command over the VM's monitor socket. */
async function qmp(socketPath: string, command: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createConnection(socketPath);
    let buf = '';
    let step = 0;
    s.setTimeout(5000, () => s.destroy(new Error('QMP timed out')));
    s.on('error', reject);
    s.on('close', () => resolve());
    s.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const msg = JSON.parse(line);
        if (msg.QMP && step === 0) {
          step = 1;
          s.write('{"execute":"qmp_capabilities"}\n');
        } else if ('return' in msg && step === 1) {
          step = 2;
          s.write(JSON.stringify({ execute: command }) + '\n');
        } else if ('return' in msg && step === 2) {
          s.end();
        } else if (msg.error) {
          s.destroy(new Error(`QMP ${command}: ${msg.error.desc}`));
        }
      }
    });
  });
}

/** What QEMU prints when KVM cannot emulate what the guest runs (nested KVM without unrestricted guest, say). */
const KVM_FAILURE = /KVM internal error/;

interface Run {
  child: ChildProcess;
  accelerator: 'kvm' | 'tcg';
  qmpPath: string;
  /** `kvmFailed`: the run was ended because KVM could not run the guest; it is started again under TCG. */
  exited: Promise<VmExit & { kvmFailed?: boolean }>;
  kill(): void;
}

/**
 * Starts the VM, under KVM when /dev/kvm is usable and `spec.kvm` allows it. A guest KVM cannot run (QEMU reports a
 * KVM internal error and freezes it) is killed and started again under TCG from the same disks, as a reset would,
 * and `spec.onKvmFailure` is told so later VMs can go to TCG directly.
 */
export function startVm(spec: VmSpec): Vm {
  const ring = new ConsoleRing(spec.consoleBytes);
  let run = launch(spec, ring, spec.kvm !== false && kvmUsable() ? 'kvm' : 'tcg');
  let killedAfterTimeout = false;
  const exited: Promise<VmExit> = (async () => {
    for (;;) {
      const exit = await run.exited;
      if (!exit.kvmFailed || killedAfterTimeout) {
        const reason = killedAfterTimeout ? 'killed: the guest did not power off within the shutdown timeout' : exit.reason;
        ring.push(Buffer.from(`\n[imagehouse] VM stopped: ${reason}\n`));
        return { code: exit.code, signal: exit.signal, reason };
      }
      ring.push(Buffer.from('\n[imagehouse] KVM could not run this guest (KVM internal error); starting it again under TCG\n'));
      spec.onKvmFailure?.();
      run = launch(spec, ring, 'tcg');
    }
  })();
  return {
    get pid() { return run.child.pid; },
    get accelerator() { return run.accelerator; },
    console: () => ring.bytes(),
    exited,
    async shutdown(timeoutMs) {
      const timer = setTimeout(() => {
        killedAfterTimeout = true;
        run.kill();
      }, timeoutMs);
      await qmp(run.qmpPath, 'system_powerdown').catch(() => {});
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

function launch(spec: VmSpec, ring: ConsoleRing, accelerator: 'kvm' | 'tcg'): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-vm-'));
  const qmpPath = path.join(dir, 'qmp.sock');
  const args = [
    '-machine', `q35,accel=${accelerator}`, '-m', String(spec.memoryMiB), '-smp', String(spec.vcpus),
    '-display', 'none', '-nodefaults', '-no-reboot', '-serial', 'stdio', '-monitor', 'none',
    '-qmp', `unix:${qmpPath},server=on,wait=off`,
    ...spec.disks.flatMap((file, i) => ['-drive', `file=${file},format=raw,if=virtio,cache=none,aio=threads,index=${i}`]),
  ];
  const binary = spec.qemuBinary ?? 'qemu-system-x86_64';
  // The kernel kills the VM when the service dies, even by SIGKILL: a VM never outlives its disks' NBD server.
  const child: ChildProcess = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => {
    ring.push(d);
    spec.onOutput?.();
  });
  let stderr = '';
  let kvmFailed = false;
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-2000);
    if (accelerator === 'kvm' && !kvmFailed && KVM_FAILURE.test(stderr)) {
      kvmFailed = true;
      child.kill('SIGKILL');
    }
  });
  const exited = new Promise<VmExit & { kvmFailed?: boolean }>((resolve) => {
    const done = (code: number | null, signal: string | null, err?: Error) => {
      fs.rmSync(dir, { recursive: true, force: true });
      const reason = err ? `could not start ${binary}: ${err.message}`
        : code === 0 ? 'the guest powered off'
          : `qemu exited with ${signal ? `signal ${signal}` : `code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
      resolve({ code, signal, reason, kvmFailed });
    };
    child.once('error', (e) => done(null, null, e));
    child.once('exit', (code, signal) => done(code, signal));
  });
  return { child, accelerator, qmpPath, exited, kill: () => child.kill('SIGKILL') };
}
