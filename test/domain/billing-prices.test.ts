import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPrices, parseMicro, tierPrice, validatePrices } from '../../src/domain/catalog/prices.ts';
import { centsOf, formatCents, storageHourMicro } from '../../src/services/billing/money.ts';

test('the shipped price catalog loads; amounts are exact integers of micro-CNY', () => {
  const p = loadPrices();
  assert.equal(p.currency, 'CNY');
  assert.equal(p.snapshotMicroPerGiBMonth, 120_000);
  assert.equal(tierPrice(p.licenseTiers.windows, 8), 800_000);
  assert.equal(tierPrice(p.licenseTiers.windows, 5), 800_000);
  assert.equal(tierPrice(p.licenseTiers.windows, 4096), 3_200_000);
  assert.equal(parseMicro('0.1'), 100_000);
  assert.equal(parseMicro('12.000001'), 12_000_001);
});

test('the loader rejects floats, too many decimals and unsorted tiers', () => {
  const ok = { Currency: 'CNY', HoursPerMonth: 730, SnapshotStoragePerGiBMonth: '0.12', LicensePerHour: { windows: [{ MaxVcpu: 2, Price: '0.2' }] } };
  assert.doesNotThrow(() => validatePrices(ok));
  assert.throws(() => validatePrices({ ...ok, SnapshotStoragePerGiBMonth: 0.12 }), /decimal string/);
  assert.throws(() => validatePrices({ ...ok, SnapshotStoragePerGiBMonth: '0.1234567' }), /decimal string/);
  assert.throws(() => validatePrices({ ...ok, LicensePerHour: { windows: [{ MaxVcpu: 4, Price: '1' }, { MaxVcpu: 2, Price: '1' }] } }), /ascending/);
  assert.throws(() => validatePrices({ ...ok, LicensePerHour: { beos: [{ MaxVcpu: 4, Price: '1' }] } }), /unknown licence class/);
});

test('storage per hour is price/730 pro rata, rounded half-up once; cents round half-up', () => {
  // 1 GiB at 0.12/GiB-month: 120000/730 = 164.38 → 164 µ.
  assert.equal(storageHourMicro(1024 ** 3, 120_000, 730), 164);
  // 2 TiB does not lose precision (the product exceeds 2^53).
  assert.equal(storageHourMicro(2 * 1024 ** 4, 120_000, 730), 336_658);
  assert.equal(centsOf(5_000), 1);
  assert.equal(centsOf(4_999), 0);
  assert.equal(formatCents(950), '9.50');
  assert.equal(formatCents(5), '0.05');
});
