import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CatalogError,
  isInRegion,
  loadInstanceTypes,
  loadPublicImages,
  loadRegions,
  type PublicImage,
} from '../../src/domain/catalog/index.ts';

/** The distributions the issue requires, keyed by how their English OS name starts. */
const DISTROS = [
  'Alibaba Cloud Linux',
  'CentOS',
  'Ubuntu',
  'Debian',
  'SUSE Linux Enterprise Server',
  'OpenSUSE',
  'Red Hat Enterprise Linux',
  'Windows Server',
  'AlmaLinux',
  'Rocky Linux',
];

function withTempFile(name: string, content: unknown, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-test-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rejects(fn: () => unknown, ...mustMention: (string | RegExp)[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CatalogError, `expected CatalogError, got ${String(err)}`);
    for (const m of mustMention) {
      if (typeof m === 'string') assert.ok(err.message.includes(m), `"${err.message}" should mention ${m}`);
      else assert.match(err.message, m);
    }
    return true;
  });
}

test('regions: the five default regions with their endpoints, infixes and zones', () => {
  const regions = loadRegions();
  const byId = new Map(regions.map((r) => [r.RegionId, r]));
  const expected: Record<string, [string, string]> = {
    'cn-hangzhou': ['ecs.aliyuncs.com', 'bp1'],
    'cn-beijing': ['ecs.aliyuncs.com', '2ze'],
    'cn-shanghai': ['ecs.aliyuncs.com', 'uf6'],
    'ap-southeast-1': ['ecs.ap-southeast-1.aliyuncs.com', 't4n'],
    'eu-central-1': ['ecs.eu-central-1.aliyuncs.com', 'gw8'],
  };
  assert.deepEqual([...byId.keys()].sort(), Object.keys(expected).sort());
  for (const [id, [endpoint, infix]] of Object.entries(expected)) {
    const r = byId.get(id)!;
    assert.equal(r.RegionEndpoint, endpoint);
    assert.equal(r.IdInfix, infix);
    assert.ok(r.Zones.length >= 2, `${id} has zones`);
    for (const lang of ['zh-CN', 'en-US', 'ja']) assert.ok(r.LocalName[lang], `${id} has a ${lang} name`);
  }
  assert.equal(byId.get('cn-hangzhou')!.LocalName['zh-CN'], '华东1（杭州）');
  assert.equal(byId.get('cn-hangzhou')!.LocalName['en-US'], 'China (Hangzhou)');
  assert.deepEqual(byId.get('cn-hangzhou')!.Zones, ['cn-hangzhou-h', 'cn-hangzhou-i', 'cn-hangzhou-j', 'cn-hangzhou-k']);
  assert.deepEqual(byId.get('ap-southeast-1')!.Zones, ['ap-southeast-1a', 'ap-southeast-1b', 'ap-southeast-1c']);
});

test('public images: shipped catalog holds the documented invariants', () => {
  const images = loadPublicImages();
  assert.ok(images.length >= 70 && images.length <= 100, `catalog size ${images.length}`);
  assert.equal(new Set(images.map((i) => i.ImageId)).size, images.length, 'unique IDs');
  for (const i of images) {
    assert.ok(!i.ImageId.startsWith('m-'), i.ImageId);
    assert.match(i.ImageId, /_alibase_\d{8}\.vhd$/);
    assert.equal(i.ImageOwnerAlias, 'system');
    assert.match(i.ImageFamily, /^acs:/);
    assert.match(i.CreationTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(i.IsSupportIoOptimized, true);
    assert.deepEqual(i.DiskDeviceMappings, [{ Device: '/dev/xvda', Size: String(i.Size), Type: 'system' }]);
    if (i.Architecture === 'arm64') assert.equal(i.BootMode, 'UEFI', i.ImageId);
    if (i.OSType === 'windows') {
      assert.equal(i.Architecture, 'x86_64', i.ImageId);
      assert.equal(i.IsSupportCloudinit, false, i.ImageId);
      assert.ok(i.Size >= 40, i.ImageId);
      assert.equal(i.LicenseClass, 'windows', i.ImageId);
      assert.match(i.Platform, /^Windows Server \d{4}$/);
    } else {
      assert.equal(i.Size, 20, i.ImageId);
    }
    const expectedLicense = i.OSNameEn.startsWith('Red Hat') ? 'rhel'
      : i.OSNameEn.startsWith('SUSE') ? 'suse'
      : i.OSType === 'windows' ? 'windows' : 'none';
    assert.equal(i.LicenseClass, expectedLicense, i.ImageId);
    // the build date in the file-like ID is the creation day
    assert.equal(i.ImageId.match(/_(\d{8})\.vhd$/)![1], i.CreationTime.slice(0, 10).replaceAll('-', ''));
  }
  assert.ok(images.some((i) => i.Status === 'Deprecated'), 'at least one Deprecated image');
  assert.ok(images.some((i) => i.Architecture === 'x86_64'));
  assert.ok(images.some((i) => i.Architecture === 'arm64'));
  assert.ok(images.some((i) => i.BootMode === 'UEFI-Preferred'));
  assert.ok(images.some((i) => !isInRegion(i, 'eu-central-1')), 'some images are not in eu-central-1');
});

test('public images: every required family is present with at least two versions', () => {
  const images = loadPublicImages();
  for (const distro of DISTROS) {
    const members = images.filter((i) => i.OSNameEn.startsWith(distro));
    const versions = new Set(members.map((i) => i.ImageVersion));
    assert.ok(versions.size >= 2, `${distro}: versions ${[...versions].join(', ')}`);
  }
  const unclaimed = images.filter((i) => !DISTROS.some((d) => i.OSNameEn.startsWith(d)));
  assert.deepEqual(unclaimed.map((i) => i.ImageId), []);
  for (const legacy of ['CentOS  6.10', 'CentOS  8.5']) {
    const old = images.filter((i) => i.OSNameEn.startsWith(legacy));
    assert.ok(old.length > 0 && old.every((i) => i.Status === 'Deprecated'), `${legacy} is deprecated`);
  }
});

test('public images: within each ImageFamily the newest image is Available and strictly newest', () => {
  const families = new Map<string, PublicImage[]>();
  for (const i of loadPublicImages()) families.set(i.ImageFamily, [...(families.get(i.ImageFamily) ?? []), i]);
  for (const [family, members] of families) {
    const sorted = [...members].sort((a, b) => b.CreationTime.localeCompare(a.CreationTime));
    if (sorted.length > 1) assert.notEqual(sorted[0].CreationTime, sorted[1].CreationTime, `${family}: tie for newest`);
    // every member of a family shares architecture and OS type
    assert.equal(new Set(members.map((m) => `${m.Architecture}/${m.OSType}`)).size, 1, family);
    if (members.some((m) => m.Status === 'Available')) assert.equal(sorted[0].Status, 'Available', `${family}: newest is ${sorted[0].ImageId}`);
  }
});

test('instance types: realistic table across both CPU architectures', () => {
  const types = loadInstanceTypes();
  const regionIds = loadRegions().map((r) => r.RegionId);
  assert.ok(types.length >= 30, `${types.length} instance types`);
  const byId = new Map(types.map((t) => [t.InstanceTypeId, t]));
  assert.equal(byId.size, types.length);
  assert.deepEqual(
    { ...byId.get('ecs.g7.large')! },
    { InstanceTypeId: 'ecs.g7.large', InstanceTypeFamily: 'ecs.g7', CpuCoreCount: 2, MemorySize: 8, CpuArchitecture: 'X86', Regions: 'all' },
  );
  assert.equal(byId.get('ecs.g8y.large')!.CpuArchitecture, 'ARM');
  assert.equal(byId.get('ecs.t6-c1m1.large')!.InstanceTypeFamily, 'ecs.t6');
  assert.equal(byId.get('ecs.e-c1m2.large')!.InstanceTypeFamily, 'ecs.e');
  for (const t of types) {
    assert.ok(t.InstanceTypeId.startsWith(`${t.InstanceTypeFamily}.`) || t.InstanceTypeId.startsWith(`${t.InstanceTypeFamily}-`), t.InstanceTypeId);
  }
  // every region offers both an x86 type and (where arm64 types exist at all) something to run images on
  for (const region of regionIds) assert.ok(types.some((t) => t.CpuArchitecture === 'X86' && isInRegion(t, region)), region);
  assert.ok(types.some((t) => t.CpuArchitecture === 'ARM'));
  assert.ok(types.some((t) => t.MemorySize < 4), 'a small type usable with i386 images');
});

test('loaders accept an operator-supplied file', () => {
  const regions = loadRegions();
  const ubuntu = loadPublicImages().filter((i) => i.Platform === 'Ubuntu');
  withTempFile('images.json', ubuntu, (path) => {
    assert.deepEqual(loadPublicImages(path, regions), ubuntu);
  });
  withTempFile('regions.json', regions.slice(0, 1), (path) => {
    assert.deepEqual(loadRegions(path).map((r) => r.RegionId), ['cn-hangzhou']);
  });
});

test('a broken public-image file is rejected with an error naming the entry', () => {
  const regions = loadRegions();
  const good = loadPublicImages(undefined, regions);
  const target = good.find((i) => i.Architecture === 'arm64')!;
  const cases: [string, (i: Record<string, unknown>) => void, RegExp][] = [
    ['arm64 with BIOS', (i) => { i.BootMode = 'BIOS'; }, /UEFI/],
    ['bad OSType', (i) => { i.OSType = 'Linux'; }, /OSType/],
    ['missing OSNameEn', (i) => { delete i.OSNameEn; }, /OSNameEn/],
    ['unknown region', (i) => { i.Regions = ['cn-hangzhou', 'mars-north-1']; }, /mars-north-1/],
    ['bad time', (i) => { i.CreationTime = '2024-05-28 10:00:00'; }, /CreationTime/],
    ['m- ID', (i) => { i.ImageId = 'm-bp1abcdefghijklmnopq'; }, /m-bp1abcdefghijklmnopq/],
    ['mapping size mismatch', (i) => { i.DiskDeviceMappings = [{ Device: '/dev/xvda', Size: '30', Type: 'system' }]; }, /system disk Size/],
  ];
  for (const [label, breakIt, problem] of cases) {
    const copy = good.map((i) => structuredClone(i) as unknown as Record<string, unknown>);
    const idx = good.indexOf(target);
    breakIt(copy[idx]);
    withTempFile('public-images.json', copy, (path) => {
      const name = label === 'm- ID' ? 'm-bp1abcdefghijklmnopq' : target.ImageId;
      rejects(() => loadPublicImages(path, regions), `entry #${idx} (${name})`, problem, path);
    });
  }

  const windows = good.findIndex((i) => i.OSType === 'windows');
  const copy = good.map((i) => structuredClone(i) as unknown as Record<string, unknown>);
  copy[windows].IsSupportCloudinit = true;
  withTempFile('x.json', copy, (path) => rejects(() => loadPublicImages(path, regions), good[windows].ImageId, /cloud-init/));

  const dup = [...good, good[3]];
  withTempFile('x.json', dup, (path) => rejects(() => loadPublicImages(path, regions), `duplicate ImageId ${good[3].ImageId}`));

  withTempFile('x.json', '{ not json', (path) => rejects(() => loadPublicImages(path, regions), /invalid JSON/));
  rejects(() => loadPublicImages('/nonexistent/catalog.json', regions), /cannot read/);
});

test('broken region and instance-type files are rejected with an error naming the entry', () => {
  const regions = loadRegions();
  const sameInfix = regions.map((r) => ({ ...r }));
  sameInfix[4].IdInfix = sameInfix[0].IdInfix;
  withTempFile('regions.json', sameInfix, (path) => rejects(() => loadRegions(path), '(eu-central-1)', 'IdInfix bp1 is already used by region cn-hangzhou'));

  const noEnglish = regions.map((r) => ({ ...r, LocalName: { ...r.LocalName } }));
  delete (noEnglish[1].LocalName as Record<string, string>)['en-US'];
  withTempFile('regions.json', noEnglish, (path) => rejects(() => loadRegions(path), '(cn-beijing)', 'LocalName.en-US'));

  const types = loadInstanceTypes(undefined, regions).map((t) => ({ ...t }));
  const i = types.findIndex((t) => t.InstanceTypeId === 'ecs.c7.large');
  types[i].Regions = ['cn-hangzhou', 'us-nowhere-9'];
  withTempFile('types.json', types, (path) => rejects(() => loadInstanceTypes(path, regions), `entry #${i} (ecs.c7.large)`, 'us-nowhere-9'));

  const arch = loadInstanceTypes(undefined, regions).map((t) => ({ ...t }) as Record<string, unknown>);
  arch[0].CpuArchitecture = 'x86_64';
  withTempFile('types.json', arch, (path) => rejects(() => loadInstanceTypes(path, regions), `(${String(arch[0].InstanceTypeId)})`, /X86\|ARM/));
});
