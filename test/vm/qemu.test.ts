/** The QEMU runner: a boot to power-off with the console captured, the bounded ring, and shutdown → kill. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsoleRing, kvmUsable, startVm } from '../../src/vm/qemu.ts';
import { requires } from '../support/requires.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/make-boot-image.sh');
const skip = requires('boot-image');

test('the console ring keeps the last bytes only', () => {
  const ring = new ConsoleRing(10);
  for (const s of ['hello ', 'world', ', and ', 'more']) ring.push(Buffer.from(s));
  assert.equal(ring.bytes().toString(), ', and more');
  ring.push(Buffer.alloc(100, 0x41));
  assert.deepEqual(ring.bytes(), Buffer.alloc(10, 0x41));
});

test('a VM boots, its console is captured, and its power-off is reported', { skip }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-vm-test-'));
  try {
    const image = path.join(tmp, 'boot.raw');
    execFileSync(SCRIPT, [image, 'RUNNER-MARKER']);
    const vm = startVm({ vcpus: 1, memoryMiB: 256, disks: [image], consoleBytes: 64 * 1024 });
    const killer = setTimeout(() => void vm.shutdown(0), 240_000);
    const exit = await vm.exited;
    clearTimeout(killer);
    assert.match(vm.console().toString(), /IMAGEHOUSE-MARKER: RUNNER-MARKER/);
    assert.equal(exit.code, 0);
    assert.equal(exit.reason, 'the guest powered off');

    // A guest that ignores the ACPI power button (here: nothing boots) is killed after the timeout.
    const blank = path.join(tmp, 'blank.raw');
    fs.writeFileSync(blank, Buffer.alloc(1024 * 1024));
    const stuck = startVm({ vcpus: 1, memoryMiB: 64, disks: [blank], consoleBytes: 1024 });
    await new Promise((r) => setTimeout(r, 1000));
    const end = await stuck.shutdown(1000);
    assert.match(end.reason, /killed/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('a guest KVM cannot run is started again under TCG, and the caller is told', { skip: kvmUsable() ? false : '/dev/kvm is not usable here' }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-vm-test-'));
  try {
    // A stand-in for qemu-system-x86_64 on a host whose KVM freezes the guest (as nested KVM may): under KVM it
    // reports QEMU's internal error and hangs; under TCG it boots and powers off.
    const fake = path.join(tmp, 'qemu-fake');
    fs.writeFileSync(fake, `#!/bin/sh
case "$*" in
  *accel=kvm*) echo "KVM internal error. Suberror: 1" >&2; exec sleep 60 ;;
  *accel=tcg*) echo "BOOTED-UNDER-TCG"; exit 0 ;;
esac
exit 3
`, { mode: 0o755 });
    let told = 0;
    const vm = startVm({ vcpus: 1, memoryMiB: 64, disks: ['/dev/null'], consoleBytes: 4096, qemuBinary: fake, onKvmFailure: () => told++ });
    const exit = await vm.exited;
    assert.equal(exit.reason, 'the guest powered off');
    assert.equal(vm.accelerator, 'tcg');
    assert.equal(told, 1);
    assert.match(vm.console().toString(), /KVM could not run this guest[\s\S]*BOOTED-UNDER-TCG/);
    // Told so, the next VM goes to TCG at once.
    const next = startVm({ vcpus: 1, memoryMiB: 64, disks: ['/dev/null'], consoleBytes: 4096, qemuBinary: fake, kvm: false, onKvmFailure: () => told++ });
    assert.equal(next.accelerator, 'tcg');
    assert.equal((await next.exited).reason, 'the guest powered off');
    assert.equal(told, 1);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
