/**
 * Metering: usage records per account, resource, kind and hour, computed from the resource tables and the
 * billing history (seats, deleted snapshots, subscriptions). An hour is metered once it has ended; every
 * resource that existed at any moment of it is charged for the whole hour. Records are only ever inserted,
 * keyed by (account, resource, kind, hour) with `on conflict do nothing`: a run that crashed half-way, or
 * overlapping runs, are simply run again and never count an hour twice.
 */
import { tierPrice } from '../../domain/catalog/prices.ts';
import { cooperative } from '../../domain/cooperate.ts';
import type { Services } from '../context.ts';
import { billingDb, type UsageRow } from './tables.ts';
import { prices } from './prices.ts';
import { storageHourMicro } from './money.ts';
import { productOf, type Product } from '../marketplace/products.ts';

export const HOUR = 3_600_000;

export function hourOf(t: number): number {
  return Math.floor(t / HOUR) * HOUR;
}

/** Start of each hour in [from, to) that [start, end) touches; end null = still there. */
function* hoursTouched(start: number, end: number | null, from: number, to: number): Generator<number> {
  const first = Math.max(from, hourOf(start));
  const last = end === null ? to : Math.min(to, hourOf(end - 1) + HOUR);
  for (let h = first; h < last; h += HOUR) yield h;
}

type NewUsage = Omit<UsageRow, 'recorded_at'>;

/** Seats that overlap [from, to), a page at a time (a single read of every seat would hold the loop while it runs). */
async function* seatsIn(services: Pick<Services, 'db'>, from: number, to: number) {
  const pause = cooperative();
  for (let after = ''; ;) {
    const page = await billingDb(services.db).selectFrom('billing_seats').selectAll().where('started_at', '<', to)
      .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', from)])).where('disk_id', '>', after).orderBy('disk_id').limit(1000).execute();
    yield* page;
    if (page.length < 1000) return;
    after = page.at(-1)!.disk_id;
    await pause();
  }
}

async function seatUsage(services: Pick<Services, 'db' | 'clock'>, from: number, to: number, products: Map<string, Product>): Promise<NewUsage[]> {
  const catalog = prices();
  const out: NewUsage[] = [];
  const pause = cooperative();
  for await (const s of seatsIn(services, from, to)) {
    await pause();
    const license = catalog.licenseTiers[s.license_class];
    const product = s.product_code ? products.get(s.product_code) : undefined;
    const hourly = product?.priceModel === 'hourly' && product.isvId !== s.account_id ? product : undefined;
    if (!license && !hourly) continue;
    const end = s.ended_at === null ? null : Number(s.ended_at);
    for (const hour of hoursTouched(Number(s.started_at), end, from, to)) {
      const base = { account_id: s.account_id, resource_id: s.disk_id, hour, region: s.region, quantity: 1 };
      if (license) {
        const unit = tierPrice(license, s.vcpu);
        out.push({ ...base, kind: 'license', unit_price_micro: unit, amount_micro: unit, product_code: '', payee_id: '',
          detail: `${s.license_class} ${s.vcpu} vCPU on ${s.instance_id}` });
      }
      if (hourly) {
        const unit = tierPrice(hourly.hourlyTiers, s.vcpu);
        out.push({ ...base, kind: 'marketplace_hourly', unit_price_micro: unit, amount_micro: unit, product_code: hourly.code, payee_id: hourly.isvId,
          detail: `${hourly.code} ${s.vcpu} vCPU on ${s.instance_id}` });
      }
    }
  }
  return out;
}

async function snapshotUsage(services: Pick<Services, 'db' | 'clock'>, from: number, to: number): Promise<NewUsage[]> {
  const { snapshotMicroPerGiBMonth: price, hoursPerMonth } = prices();
  const db = billingDb(services.db);
  const [live, gone] = await Promise.all([
    db.selectFrom('snapshots').select(['id', 'owner_id', 'region', 'unique_bytes', 'created_at']).where('created_at', '<', to).execute(),
    db.selectFrom('billing_snapshot_history').selectAll().where('created_at', '<', to).where('deleted_at', '>', from).execute(),
  ]);
  const spans = [
    ...live.map((s) => ({ id: s.id, account: s.owner_id, region: s.region, bytes: Number(s.unique_bytes), start: Number(s.created_at), end: null as number | null })),
    ...gone.map((s) => ({ id: s.snapshot_id, account: s.account_id, region: s.region, bytes: Number(s.unique_bytes), start: Number(s.created_at), end: Number(s.deleted_at) })),
  ].filter((s) => s.bytes > 0);
  const backing = new Map<string, string>();
  const ids = spans.map((s) => s.id);
  const pause = cooperative();
  for (let i = 0; i < ids.length; i += 500) {
    await pause();
    const rows = await db.selectFrom('image_disks').select(['snapshot_id', 'image_id']).where('snapshot_id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) if (!backing.has(r.snapshot_id)) backing.set(r.snapshot_id, r.image_id);
  }
  const out: NewUsage[] = [];
  for (const s of spans) {
    await pause();
    const amount = storageHourMicro(s.bytes, price, hoursPerMonth);
    // The image a snapshot backs is the one backing it when the hour is metered (hourly runs keep this exact).
    const image = backing.get(s.id);
    for (const hour of hoursTouched(s.start, s.end, from, to)) {
      out.push({ account_id: s.account, resource_id: s.id, kind: 'snapshot_storage', hour, region: s.region, quantity: s.bytes,
        unit_price_micro: price, amount_micro: amount, product_code: '', payee_id: '', detail: image ? `image ${image}` : '' });
    }
  }
  return out;
}

async function subscriptionUsage(services: Pick<Services, 'db' | 'clock'>, from: number, to: number, products: Map<string, Product>): Promise<NewUsage[]> {
  const subs = await billingDb(services.db).selectFrom('mp_subscriptions').selectAll().where('created_at', '>=', from).where('created_at', '<', to)
    .where('amount_micro', '>', 0).execute();
  return subs.flatMap((s) => {
    const product = products.get(s.product_code);
    if (!product) return [];
    const monthly = product.priceModel === 'monthly';
    return [{
      account_id: s.account_id, resource_id: s.id, kind: monthly ? 'marketplace_subscription' : 'marketplace_one_time', hour: hourOf(Number(s.created_at)),
      region: '', quantity: monthly ? s.months : 1, unit_price_micro: monthly ? product.monthlyMicro : Number(s.amount_micro),
      amount_micro: Number(s.amount_micro), product_code: s.product_code, payee_id: product.isvId, detail: monthly ? `${s.months} month(s)` : 'one-time',
    } satisfies NewUsage];
  });
}

/**
 * Records usage for every ended hour in [fromHour, toHour) (clamped to the current hour). Idempotent.
 * Returns how many records were new.
 */
export async function meterHours(services: Pick<Services, 'db' | 'clock'>, fromHour: number, toHour: number): Promise<{ from: number; to: number; recorded: number }> {
  const now = services.clock.now();
  const from = hourOf(fromHour);
  const to = Math.min(hourOf(toHour + HOUR - 1), hourOf(now));
  if (to <= from) return { from, to: from, recorded: 0 };
  const db = billingDb(services.db);
  const products = new Map((await db.selectFrom('mp_products').selectAll().execute()).map((r) => [r.code, productOf(r)]));
  const rows = [
    ...(await seatUsage(services, from, to, products)),
    ...(await snapshotUsage(services, from, to)),
    ...(await subscriptionUsage(services, from, to, products)),
  ];
  const count = async () => Number((await db.selectFrom('usage_records').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('hour', '>=', from).where('hour', '<', to).executeTakeFirstOrThrow()).n);
  const before = await count();
  // On SQLite every statement completes synchronously: without the pauses, metering thousands of seats would hold
  // the event loop for the whole run (issue 11: nothing may hold it for more than 50 ms).
  const pause = cooperative();
  for (let i = 0; i < rows.length; i += 200) {
    await pause();
    await db.insertInto('usage_records').values(rows.slice(i, i + 200).map((r) => ({ ...r, recorded_at: now })))
      .onConflict((oc) => oc.columns(['account_id', 'resource_id', 'kind', 'hour']).doNothing()).execute();
  }
  return { from, to, recorded: (await count()) - before };
}

/** Meters the last `lookbackHours` every `intervalMs` (catching up after downtime); returns a stop function. */
export function startMeterTimer(services: Pick<Services, 'db' | 'clock'>, opts: { intervalMs?: number; lookbackHours?: number; onError(e: unknown): void }): () => void {
  const run = () => {
    const now = services.clock.now();
    void meterHours(services, now - (opts.lookbackHours ?? 72) * HOUR, now).catch(opts.onError);
  };
  const timer = setInterval(run, opts.intervalMs ?? 600_000);
  timer.unref();
  return () => clearInterval(timer);
}
