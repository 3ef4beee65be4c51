/**
 * The price catalog (prices.json): OS licence fees per hour by vCPU tier and snapshot storage per GiB-month.
 * Amounts are decimal strings in the file and integer micro-units (1 CNY = 1,000,000) in memory, so no
 * float ever touches money. Read when called, never at import time; an operator may pass another file.
 */
import { readFileSync } from 'node:fs';
import { CatalogError, type CatalogFile } from './types.ts';
import { LICENSE_CLASSES } from '../image-rules.ts';

export interface PriceTier {
  maxVcpu: number;
  micro: number;
}

export interface PriceCatalog {
  currency: 'CNY' | 'USD';
  hoursPerMonth: number;
  snapshotMicroPerGiBMonth: number;
  /** Licence class (windows, rhel, suse) → ascending tiers. */
  licenseTiers: Record<string, PriceTier[]>;
}

const DEFAULT_FILE = new URL('./prices.json', import.meta.url);

/** "0.12" → 120000. At most 6 decimals; no sign, no exponent. */
export function parseMicro(s: unknown, where = 'amount'): number {
  if (typeof s !== 'string' || !/^\d{1,9}(\.\d{1,6})?$/.test(s)) throw new CatalogError(`${where}: expected a decimal string with at most 6 decimals, got ${JSON.stringify(s)}`);
  const [whole, frac = ''] = s.split('.');
  return Number(whole) * 1_000_000 + Number(frac.padEnd(6, '0'));
}

export function parseTiers(raw: unknown, where: string): PriceTier[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new CatalogError(`${where}: expected a non-empty list of tiers`);
  const tiers = raw.map((t: any, i) => {
    if (!Number.isInteger(t?.MaxVcpu) || t.MaxVcpu < 1) throw new CatalogError(`${where}[${i}].MaxVcpu: expected a positive integer`);
    return { maxVcpu: t.MaxVcpu as number, micro: parseMicro(t.Price, `${where}[${i}].Price`) };
  });
  for (let i = 1; i < tiers.length; i++) {
    if (tiers[i].maxVcpu <= tiers[i - 1].maxVcpu) throw new CatalogError(`${where}: tiers must be in ascending MaxVcpu order`);
  }
  return tiers;
}

/** The price of the first tier that covers `vcpu` (the last tier covers anything larger). */
export function tierPrice(tiers: readonly PriceTier[], vcpu: number): number {
  return (tiers.find((t) => vcpu <= t.maxVcpu) ?? tiers[tiers.length - 1]).micro;
}

export function validatePrices(raw: any, where = 'prices'): PriceCatalog {
  if (!raw || typeof raw !== 'object') throw new CatalogError(`${where}: expected an object`);
  if (raw.Currency !== 'CNY' && raw.Currency !== 'USD') throw new CatalogError(`${where}.Currency: expected CNY or USD`);
  if (!Number.isInteger(raw.HoursPerMonth) || raw.HoursPerMonth < 1) throw new CatalogError(`${where}.HoursPerMonth: expected a positive integer`);
  const licenses = raw.LicensePerHour;
  if (!licenses || typeof licenses !== 'object') throw new CatalogError(`${where}.LicensePerHour: expected an object`);
  const licenseTiers: Record<string, PriceTier[]> = {};
  for (const [cls, tiers] of Object.entries(licenses)) {
    if (cls === 'none' || !(LICENSE_CLASSES as readonly string[]).includes(cls)) throw new CatalogError(`${where}.LicensePerHour.${cls}: unknown licence class`);
    licenseTiers[cls] = parseTiers(tiers, `${where}.LicensePerHour.${cls}`);
  }
  return {
    currency: raw.Currency,
    hoursPerMonth: raw.HoursPerMonth,
    snapshotMicroPerGiBMonth: parseMicro(raw.SnapshotStoragePerGiBMonth, `${where}.SnapshotStoragePerGiBMonth`),
    licenseTiers,
  };
}

export function loadPrices(file: CatalogFile = DEFAULT_FILE): PriceCatalog {
  const where = typeof file === 'string' ? file : file.pathname;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CatalogError(`${where}: ${(e as Error).message}`);
  }
  return validatePrices(raw, where);
}
