/**
 * Monthly bills from the usage records: one line per resource, kind and detail (hours, quantity, amount),
 * and the total. Amounts add up in integer micro-CNY; each line is rounded to the cent once, and the total
 * is the sum of the rounded lines, so the printed bill always adds up to the cent. ISVs get their revenue
 * per product from the records whose payee they are.
 */
import { apiError } from '../../domain/errors.ts';
import type { Services } from '../context.ts';
import { billingDb } from './tables.ts';
import { centsOf, formatCents } from './money.ts';
import { prices } from './prices.ts';
import { meterHours } from './meter.ts';

export interface BillLine {
  resourceId: string;
  kind: string;
  region: string;
  productCode: string;
  detail: string;
  hours: number;
  /** Hours for hourly kinds, byte-hours for snapshot storage, months or 1 for subscriptions. */
  quantity: number;
  amountMicro: number;
  amountCents: number;
  amount: string;
}

export interface Bill {
  accountId: string;
  month: string;
  currency: string;
  lines: BillLine[];
  totalCents: number;
  total: string;
}

export function monthRange(month: string): { from: number; to: number } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw apiError('InvalidMonth.Malformed');
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { from: Date.UTC(y, mo, 1), to: Date.UTC(y, mo + 1, 1) };
}

export async function billFor(services: Pick<Services, 'db' | 'clock'>, accountId: string, month: string): Promise<Bill> {
  const { from, to } = monthRange(month);
  const rows = await billingDb(services.db).selectFrom('usage_records')
    .select((eb) => ['resource_id', 'kind', 'region', 'product_code', 'detail',
      eb.fn.countAll<number>().as('hours'), eb.fn.sum<number>('quantity').as('quantity'), eb.fn.sum<number>('amount_micro').as('amount')])
    .where('account_id', '=', accountId).where('hour', '>=', from).where('hour', '<', to)
    .groupBy(['resource_id', 'kind', 'region', 'product_code', 'detail'])
    .orderBy('kind').orderBy('resource_id').orderBy('detail').execute();
  const lines = rows.map((r): BillLine => {
    const amountMicro = Number(r.amount);
    const amountCents = centsOf(amountMicro);
    return {
      resourceId: r.resource_id, kind: r.kind, region: r.region, productCode: r.product_code, detail: r.detail,
      hours: Number(r.hours), quantity: Number(r.quantity), amountMicro, amountCents, amount: formatCents(amountCents),
    };
  });
  const totalCents = lines.reduce((s, l) => s + l.amountCents, 0);
  return { accountId, month, currency: prices().currency, lines, totalCents, total: formatCents(totalCents) };
}

export interface RevenueLine {
  productCode: string;
  customers: number;
  amountMicro: number;
  amountCents: number;
  amount: string;
}

export async function revenueFor(services: Pick<Services, 'db' | 'clock'>, isvId: string, month: string): Promise<{ isvId: string; month: string; currency: string; products: RevenueLine[]; totalCents: number; total: string }> {
  const { from, to } = monthRange(month);
  const rows = await billingDb(services.db).selectFrom('usage_records')
    .select((eb) => ['product_code', eb.fn.count<number>('account_id').distinct().as('customers'), eb.fn.sum<number>('amount_micro').as('amount')])
    .where('payee_id', '=', isvId).where('hour', '>=', from).where('hour', '<', to)
    .groupBy('product_code').orderBy('product_code').execute();
  const products = rows.map((r) => {
    const amountMicro = Number(r.amount);
    const amountCents = centsOf(amountMicro);
    return { productCode: r.product_code, customers: Number(r.customers), amountMicro, amountCents, amount: formatCents(amountCents) };
  });
  const totalCents = products.reduce((s, p) => s + p.amountCents, 0);
  return { isvId, month, currency: prices().currency, products, totalCents, total: formatCents(totalCents) };
}

/** Meters the month's ended hours first (idempotent), so a bill never waits for the hourly timer. */
export async function currentBill(services: Pick<Services, 'db' | 'clock'>, accountId: string, month: string): Promise<Bill> {
  const { from, to } = monthRange(month);
  await meterHours(services, from, to);
  return billFor(services, accountId, month);
}

export async function currentRevenue(services: Pick<Services, 'db' | 'clock'>, isvId: string, month: string): ReturnType<typeof revenueFor> {
  const { from, to } = monthRange(month);
  await meterHours(services, from, to);
  return revenueFor(services, isvId, month);
}
