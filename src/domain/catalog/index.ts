/**
 * The seeded catalog: Alibaba-style public images, instance types and regions.
 *
 * The data lives in the JSON files next to this module (field names are the API's, so an entry reads like
 * DescribeImages / DescribeImageSupportInstanceTypes / DescribeRegions output). Each loader reads its file when
 * called, never at import time, validates every entry and throws a `CatalogError` naming the bad entry.
 * An operator may pass another file (path or URL) to supply their own catalog.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CatalogError,
  type CatalogFile,
  type InstanceType,
  type PublicImage,
  type RegionInfo,
  type RegionScope,
} from './types.ts';
import { validateInstanceTypes, validatePublicImages, validateRegions } from './validate.ts';

export * from './types.ts';
export { validateInstanceTypes, validatePublicImages, validateRegions } from './validate.ts';

const DEFAULT_FILES = {
  images: new URL('./public-images.json', import.meta.url),
  instanceTypes: new URL('./instance-types.json', import.meta.url),
  regions: new URL('./regions.json', import.meta.url),
};

export function loadRegions(file: CatalogFile = DEFAULT_FILES.regions): RegionInfo[] {
  return validateRegions(readJson(file), describe(file));
}

/** `regions` is the region table that `Regions` lists are checked against (default: `loadRegions()`). */
export function loadPublicImages(
  file: CatalogFile = DEFAULT_FILES.images,
  regions: readonly RegionInfo[] = loadRegions(),
): PublicImage[] {
  return validatePublicImages(readJson(file), regions, describe(file));
}

/** `regions` is the region table that `Regions` lists are checked against (default: `loadRegions()`). */
export function loadInstanceTypes(
  file: CatalogFile = DEFAULT_FILES.instanceTypes,
  regions: readonly RegionInfo[] = loadRegions(),
): InstanceType[] {
  return validateInstanceTypes(readJson(file), regions, describe(file));
}

/** True when an entry with this scope exists in `regionId`. */
export function isInRegion(entry: { Regions: RegionScope }, regionId: string): boolean {
  return entry.Regions === 'all' || entry.Regions.includes(regionId);
}


function readJson(file: CatalogFile): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError(`${describe(file)}: cannot read catalog file: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CatalogError(`${describe(file)}: invalid JSON: ${(err as Error).message}`);
  }
}

function describe(file: CatalogFile): string {
  if (typeof file === 'string') return file;
  return file.protocol === 'file:' ? fileURLToPath(file) : file.href;
}
