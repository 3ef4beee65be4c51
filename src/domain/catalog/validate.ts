/**
 * Validation of catalog data: every entry is checked field by field and against the cross-entry rules
 * (unique IDs and infixes, known regions, arm64 ⇒ UEFI, Windows ⇒ x86_64 / no cloud-init / ≥ 40 GiB …).
 * The first problem found throws a `CatalogError` that names the file and the entry.
 */
import {
  CatalogError,
  type DiskDeviceMapping,
  type InstanceType,
  type PublicImage,
  type RegionInfo,
  type RegionScope,
} from './types.ts';
import { ARCHITECTURES, BOOT_MODES, CATALOG_STATUSES, LICENSE_CLASSES, MAX_DISK_GIB, OS_TYPES, USAGES } from '../image-rules.ts';

const DISK_TYPES = ['system', 'data'] as const;
const CPU_ARCHITECTURES = ['X86', 'ARM'] as const;
const REGION_STATUSES = ['available', 'soldOut'] as const;
const CREATION_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const ID_INFIX = /^[a-z0-9]{3}$/;

type Raw = Record<string, unknown>;

/** Reports problems for one entry, prefixed with the file and the entry's name. */
class EntryChecker {
  constructor(
    private readonly raw: Raw,
    readonly where: string,
  ) {}

  fail(problem: string): never {
    throw new CatalogError(`${this.where}: ${problem}`);
  }

  string(field: string, { allowEmpty = false } = {}): string {
    const v = this.raw[field];
    if (typeof v !== 'string') this.fail(`field ${field} is missing or not a string`);
    if (!allowEmpty && v.trim() === '') this.fail(`field ${field} is empty`);
    return v;
  }

  boolean(field: string): boolean {
    const v = this.raw[field];
    if (typeof v !== 'boolean') this.fail(`field ${field} is missing or not a boolean`);
    return v;
  }

  positiveNumber(field: string, { integer = false } = {}): number {
    const v = this.raw[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      this.fail(`field ${field} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const v = this.string(field);
    if (!(allowed as readonly string[]).includes(v)) {
      this.fail(`field ${field} is ${JSON.stringify(v)}, expected one of ${allowed.join('|')}`);
    }
    return v as T;
  }

  regionScope(field: string, known: ReadonlySet<string>): RegionScope {
    const v = this.raw[field];
    if (v === 'all') return 'all';
    if (!Array.isArray(v) || v.length === 0) this.fail(`field ${field} must be "all" or a non-empty list of region IDs`);
    const seen = new Set<string>();
    for (const r of v) {
      if (typeof r !== 'string') this.fail(`field ${field} contains a non-string ${JSON.stringify(r)}`);
      if (!known.has(r)) this.fail(`field ${field} names unknown region ${JSON.stringify(r)}`);
      if (seen.has(r)) this.fail(`field ${field} lists region ${r} twice`);
      seen.add(r);
    }
    return [...seen];
  }
}

function entriesOf(data: unknown, source: string): unknown[] {
  if (!Array.isArray(data)) throw new CatalogError(`${source}: expected a JSON array of entries`);
  return data;
}

function checkerFor(item: unknown, index: number, idField: string, source: string): EntryChecker {
  const id = isObject(item) && typeof item[idField] === 'string' ? ` (${item[idField]})` : '';
  const where = `${source}: entry #${index}${id}`;
  if (!isObject(item)) throw new CatalogError(`${where}: not a JSON object`);
  return new EntryChecker(item, where);
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateRegions(data: unknown, source = 'regions'): RegionInfo[] {
  const ids = new Set<string>();
  const infixes = new Map<string, string>();
  const zones = new Set<string>();
  return entriesOf(data, source).map((item, index) => {
    const c: EntryChecker = checkerFor(item, index, 'RegionId', source);
    const raw = item as Raw;
    const RegionId = c.string('RegionId');
    if (!/^[a-z][a-z0-9-]*[a-z0-9]$/.test(RegionId)) c.fail(`RegionId ${JSON.stringify(RegionId)} is malformed`);
    if (ids.has(RegionId)) c.fail(`duplicate RegionId ${RegionId}`);
    ids.add(RegionId);

    const names = raw.LocalName;
    if (!isObject(names)) c.fail('field LocalName must be an object keyed by language');
    const LocalName: Record<string, string> = {};
    for (const [lang, name] of Object.entries(names)) {
      if (typeof name !== 'string' || name.trim() === '') c.fail(`LocalName.${lang} must be a non-empty string`);
      LocalName[lang] = name;
    }
    for (const lang of ['zh-CN', 'en-US']) if (!(lang in LocalName)) c.fail(`LocalName.${lang} is missing`);

    const IdInfix = c.string('IdInfix');
    if (!ID_INFIX.test(IdInfix)) c.fail(`IdInfix ${JSON.stringify(IdInfix)} must be 3 lower-case letters or digits`);
    const other = infixes.get(IdInfix);
    if (other) c.fail(`IdInfix ${IdInfix} is already used by region ${other}`);
    infixes.set(IdInfix, RegionId);

    if (!Array.isArray(raw.Zones) || raw.Zones.length === 0) c.fail('field Zones must be a non-empty list of zone IDs');
    const Zones = raw.Zones.map((z: unknown) => {
      if (typeof z !== 'string' || !z.startsWith(RegionId)) c.fail(`zone ${JSON.stringify(z)} does not belong to ${RegionId}`);
      if (zones.has(z)) c.fail(`duplicate zone ${z}`);
      zones.add(z);
      return z;
    });

    return {
      RegionId,
      LocalName,
      RegionEndpoint: c.string('RegionEndpoint'),
      IdInfix,
      Status: c.oneOf('Status', REGION_STATUSES),
      Zones,
    };
  });
}

export function validatePublicImages(
  data: unknown,
  regions: readonly RegionInfo[],
  source = 'public images',
): PublicImage[] {
  const known = new Set(regions.map((r) => r.RegionId));
  const ids = new Set<string>();
  return entriesOf(data, source).map((item, index) => {
    const c: EntryChecker = checkerFor(item, index, 'ImageId', source);
    const ImageId = c.string('ImageId');
    if (ImageId.startsWith('m-')) c.fail('public image IDs are file-like names; m- IDs belong to custom images');
    if (ids.has(ImageId)) c.fail(`duplicate ImageId ${ImageId}`);
    ids.add(ImageId);

    const image: PublicImage = {
      ImageId,
      ImageName: c.string('ImageName'),
      ImageFamily: c.string('ImageFamily'),
      ImageVersion: c.string('ImageVersion'),
      Description: c.string('Description', { allowEmpty: true }),
      OSName: c.string('OSName'),
      OSNameEn: c.string('OSNameEn'),
      OSType: c.oneOf('OSType', OS_TYPES),
      Platform: c.string('Platform'),
      Architecture: c.oneOf('Architecture', ARCHITECTURES),
      BootMode: c.oneOf('BootMode', BOOT_MODES),
      IsSupportCloudinit: c.boolean('IsSupportCloudinit'),
      IsSupportIoOptimized: c.boolean('IsSupportIoOptimized'),
      Size: c.positiveNumber('Size', { integer: true }),
      Usage: c.oneOf('Usage', USAGES),
      ImageOwnerAlias: c.oneOf('ImageOwnerAlias', ['system'] as const),
      Status: c.oneOf('Status', CATALOG_STATUSES),
      CreationTime: c.string('CreationTime'),
      DiskDeviceMappings: diskMappings(c, (item as Raw).DiskDeviceMappings),
      LicenseClass: c.oneOf('LicenseClass', LICENSE_CLASSES),
      Regions: c.regionScope('Regions', known),
    };
    checkImageRules(c, image);
    return image;
  });
}

function diskMappings(c: EntryChecker, value: unknown): DiskDeviceMapping[] {
  if (!Array.isArray(value) || value.length === 0) c.fail('field DiskDeviceMappings must be a non-empty list');
  return value.map((m: unknown, i: number) => {
    if (!isObject(m)) c.fail(`DiskDeviceMappings[${i}] is not an object`);
    const mc: EntryChecker = new EntryChecker(m, `${c.where}: DiskDeviceMappings[${i}]`);
    const Size = mc.string('Size');
    if (!/^[1-9]\d*$/.test(Size)) mc.fail('field Size must be a whole number of GiB as a string');
    return { Device: mc.string('Device'), Size, Type: mc.oneOf('Type', DISK_TYPES) };
  });
}

function checkImageRules(c: EntryChecker, image: PublicImage): void {
  if (!CREATION_TIME.test(image.CreationTime) || Number.isNaN(Date.parse(image.CreationTime))) {
    c.fail(`CreationTime ${JSON.stringify(image.CreationTime)} is not YYYY-MM-DDTHH:mm:ssZ`);
  }
  if (image.Size > MAX_DISK_GIB) c.fail(`Size ${image.Size} exceeds ${MAX_DISK_GIB} GiB`);
  if (image.Architecture === 'arm64' && image.BootMode !== 'UEFI') c.fail('arm64 images must boot in UEFI mode');
  if (image.OSType === 'windows') {
    if (image.Architecture !== 'x86_64') c.fail('Windows images must be x86_64');
    if (image.IsSupportCloudinit) c.fail('Windows images do not support cloud-init');
    if (image.Size < 40) c.fail(`Windows images need Size >= 40 GiB, got ${image.Size}`);
  } else if (image.Size < 20) {
    c.fail(`Linux images need Size >= 20 GiB, got ${image.Size}`);
  }
  if ((image.OSType === 'windows') !== (image.LicenseClass === 'windows')) {
    c.fail(`LicenseClass ${image.LicenseClass} does not match OSType ${image.OSType}`);
  }
  const system = image.DiskDeviceMappings.filter((m) => m.Type === 'system');
  if (system.length !== 1) c.fail('DiskDeviceMappings must hold exactly one system disk');
  if (Number(system[0].Size) !== image.Size) {
    c.fail(`system disk Size ${system[0].Size} differs from image Size ${image.Size}`);
  }
}

export function validateInstanceTypes(
  data: unknown,
  regions: readonly RegionInfo[],
  source = 'instance types',
): InstanceType[] {
  const known = new Set(regions.map((r) => r.RegionId));
  const ids = new Set<string>();
  return entriesOf(data, source).map((item, index) => {
    const c: EntryChecker = checkerFor(item, index, 'InstanceTypeId', source);
    const InstanceTypeId = c.string('InstanceTypeId');
    if (!InstanceTypeId.startsWith('ecs.')) c.fail('InstanceTypeId must start with "ecs."');
    if (ids.has(InstanceTypeId)) c.fail(`duplicate InstanceTypeId ${InstanceTypeId}`);
    ids.add(InstanceTypeId);
    return {
      InstanceTypeId,
      InstanceTypeFamily: c.string('InstanceTypeFamily'),
      CpuCoreCount: c.positiveNumber('CpuCoreCount', { integer: true }),
      MemorySize: c.positiveNumber('MemorySize'),
      CpuArchitecture: c.oneOf('CpuArchitecture', CPU_ARCHITECTURES),
      Regions: c.regionScope('Regions', known),
    };
  });
}
