/**
 * The one way a suite says it needs something the machine may lack. On a fresh machine such a suite skips
 * and prints one line naming what is missing and how to get it. Where `.ci/run` provides the thing, it lists
 * it in IMAGEHOUSE_TEST_REQUIRE (comma-separated), and then a missing one fails the suite instead.
 *
 *   const skip = requires('qemu-img');
 *   describe('…', { skip }, () => { … });
 */
import fs from 'node:fs';
import path from 'node:path';
import { test as nodeTest, describe as nodeDescribe, before, after, beforeEach, afterEach } from 'node:test';

export const CHROMIUM = process.env.IMAGEHOUSE_TEST_CHROMIUM ?? '/usr/bin/chromium';

export type Need = 'qemu-img' | 'chromium' | 'postgres' | 'ceph' | 'haproxy' | 'openstack' | 'tempest' | 'nbd-tools' | 'boot-image' | 'xfs_io';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, cmd)));
}

const NEEDS: Record<Need, { present(): boolean; missing: string }> = {
  'qemu-img': { present: () => onPath('qemu-img'), missing: 'qemu-img is not installed (apt install qemu-utils)' },
  chromium: { present: () => fs.existsSync(CHROMIUM), missing: `${CHROMIUM} is not installed (apt install chromium)` },
  postgres: {
    present: () => Boolean(process.env.IMAGEHOUSE_TEST_DATABASE_URL),
    missing: 'IMAGEHOUSE_TEST_DATABASE_URL is not set (scripts/start-postgres.sh starts a throwaway PostgreSQL and prints it)',
  },
  ceph: {
    present: () => Boolean(process.env.IMAGEHOUSE_TEST_S3_ENDPOINT),
    missing: 'IMAGEHOUSE_TEST_S3_ENDPOINT is not set (scripts/start-ceph.sh starts a single-node Ceph RGW and prints it)',
  },
  xfs_io: { present: () => onPath('xfs_io'), missing: 'xfs_io is not installed (apt install xfsprogs): sparse uploads need SEEK_DATA' },
  haproxy: { present: () => onPath('haproxy'), missing: 'haproxy is not installed (apt install haproxy)' },
  openstack: { present: () => onPath('openstack'), missing: 'openstack is not installed (apt install python3-openstackclient)' },
  tempest: { present: () => onPath('tempest'), missing: 'tempest is not installed (apt install tempest)' },
  'nbd-tools': {
    present: () => ['qemu-io', 'nbdcopy', 'nbdinfo'].every(onPath),
    missing: 'qemu-io, nbdcopy or nbdinfo is not installed (apt install qemu-utils libnbd-bin)',
  },
  'boot-image': {
    present: () => ['qemu-system-x86_64', 'syslinux', 'mcopy', 'busybox'].every(onPath) && fs.existsSync('/boot') && fs.readdirSync('/boot').some((f) => f.startsWith('vmlinuz-')),
    missing: 'the boot image needs qemu-system-x86_64, syslinux, mcopy, busybox and a kernel (apt install qemu-system-x86 syslinux mtools busybox-static linux-image-amd64)',
  },
};

function required(): Set<string> {
  return new Set((process.env.IMAGEHOUSE_TEST_REQUIRE ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

const announced = new Set<string>();

/**
 * Returns the reason to skip, or undefined when everything is present. A missing need that
 * IMAGEHOUSE_TEST_REQUIRE names registers a failing test instead of skipping.
 */
export function requires(...needs: Need[]): string | undefined {
  const missing = needs.filter((n) => !NEEDS[n].present());
  if (missing.length === 0) return undefined;
  const reason = missing.map((n) => NEEDS[n].missing).join('; ');
  const mustHave = missing.filter((n) => required().has(n));
  if (mustHave.length > 0) {
    nodeTest(`requires ${mustHave.join(', ')}`, () => {
      throw new Error(`IMAGEHOUSE_TEST_REQUIRE names ${mustHave.join(', ')}, but ${reason}`);
    });
    return undefined;
  }
  if (!announced.has(reason)) {
    announced.add(reason);
    console.log(`skipped: ${reason}`);
  }
  return reason;
}

type TestFn = typeof nodeTest;
type Hook = typeof before;

/**
 * For a file whose every test needs the same things: `const { test, before, after } = needing('qemu-img')`.
 * When something is missing, each test is registered as skipped and the hooks never run.
 */
export function needing(...needs: Need[]): { skip: string | undefined; test: TestFn; it: TestFn; describe: typeof nodeDescribe; before: Hook; after: Hook; beforeEach: Hook; afterEach: Hook } {
  const skip = requires(...needs);
  if (skip === undefined) return { skip, test: nodeTest, it: nodeTest, describe: nodeDescribe, before, after, beforeEach, afterEach };
  const skipped = ((name: string) => nodeTest(name, { skip })) as unknown as TestFn;
  const skippedSuite = ((name: string) => nodeDescribe(name, { skip }, () => {})) as unknown as typeof nodeDescribe;
  const never = (() => {}) as Hook;
  return { skip, test: skipped, it: skipped, describe: skippedSuite, before: never, after: never, beforeEach: never, afterEach: never };
}
