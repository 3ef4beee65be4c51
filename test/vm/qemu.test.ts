/** The QEMU runner: a boot to power-off with the console captured, the bounded ring, and shutdown → kill. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsoleRing, startVm } from '../../src/vm/qemu.ts';
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
