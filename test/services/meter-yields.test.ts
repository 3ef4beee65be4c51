/**
 * Issue 11: nothing may hold the event loop for long. On SQLite every statement completes synchronously, so metering
 * many seats used to run from the first read to the last insert without letting any other callback in. It now reads
 * seats a page at a time and hands the loop back as it goes: other callbacks run while it meters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { meterHours, HOUR } from '../../src/services/billing/meter.ts';
import { billingDb } from '../../src/services/billing/tables.ts';

test('metering 20,000 seats lets other callbacks run meanwhile, and records every hour once', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-meter-'));
  const app = await createApp(loadConfig({ data: dataDir, port: '0' }, {}), { logger: false, worker: false });
  try {
    const now = app.services.clock.now();
    const seats = Array.from({ length: 20_000 }, (_, i) => ({
      disk_id: `d-${String(i).padStart(6, '0')}`, instance_id: `i-${i}`, account_id: 'acct', region: 'cn-hangzhou', image_id: 'm-x',
      license_class: 'windows', product_code: '', vcpu: 2, started_at: hourStart(now) - 2 * HOUR, ended_at: hourStart(now) - HOUR + 1,
    }));
    for (let i = 0; i < seats.length; i += 500) await billingDb(app.services.db).insertInto('billing_seats').values(seats.slice(i, i + 500)).execute();

    let turns = 0;
    let metering = true;
    const count = () => { if (metering) { turns++; setImmediate(count); } };
    setImmediate(count);
    const result = await meterHours(app.services, now - 72 * HOUR, now);
    metering = false;
    // Each seat touched two ended hours: one license record per seat and hour.
    assert.equal(result.recorded, 40_000);
    assert.ok(turns > 1, `other callbacks ran ${turns} time(s) while metering`);
  } finally {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

function hourStart(t: number): number {
  return Math.floor(t / HOUR) * HOUR;
}
