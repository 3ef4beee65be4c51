/**
 * Views of a month's usage for the console: cost per day (usage records summed by UTC day) and the snapshot
 * storage lines of a bill grouped by the image they back. Each day is rounded to the cent once, like a bill
 * line, so the days can differ from the bill's total by a few cents of rounding.
 */
import type { Services } from '../context.ts';
import { billingDb } from './tables.ts';
import { centsOf, formatCents } from './money.ts';
import { monthRange, type Bill } from './bill.ts';

const DAY = 86_400_000;

export interface DayCost {
  /** YYYY-MM-DD (UTC). */
  day: string;
  amountMicro: number;
  amountCents: number;
  amount: string;
}

/** Every day of the month, in order, including the days without usage. Reads what is metered (see currentBill). */
export async function dailyCost(services: Pick<Services, 'db' | 'clock'>, accountId: string, month: string): Promise<DayCost[]> {
  const { from, to } = monthRange(month);
  const rows = await billingDb(services.db).selectFrom('usage_records')
    .select((eb) => ['hour', eb.fn.sum<number>('amount_micro').as('amount')])
    .where('account_id', '=', accountId).where('hour', '>=', from).where('hour', '<', to)
    .groupBy('hour').execute();
  const micro = new Map<number, number>();
  for (const r of rows) {
    const day = Math.floor((Number(r.hour) - from) / DAY);
    micro.set(day, (micro.get(day) ?? 0) + Number(r.amount));
  }
  const days: DayCost[] = [];
  for (let d = 0; from + d * DAY < to; d++) {
    const amountMicro = micro.get(d) ?? 0;
    const amountCents = centsOf(amountMicro);
    days.push({ day: new Date(from + d * DAY).toISOString().slice(0, 10), amountMicro, amountCents, amount: formatCents(amountCents) });
  }
  return days;
}

export interface ImageStorage {
  /** Empty for snapshots that back no image. */
  imageId: string;
  snapshotIds: string[];
  amountCents: number;
  amount: string;
}

/** The bill's snapshot storage lines grouped by the image each snapshot backed when it was metered. */
export function storageByImage(bill: Bill): ImageStorage[] {
  const groups = new Map<string, { snapshots: Set<string>; cents: number }>();
  for (const line of bill.lines) {
    if (line.kind !== 'snapshot_storage') continue;
    const imageId = /^image (\S+)$/.exec(line.detail)?.[1] ?? '';
    const g = groups.get(imageId) ?? { snapshots: new Set<string>(), cents: 0 };
    g.snapshots.add(line.resourceId);
    g.cents += line.amountCents;
    groups.set(imageId, g);
  }
  return [...groups].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)))
    .map(([imageId, g]) => ({ imageId, snapshotIds: [...g.snapshots].sort(), amountCents: g.cents, amount: formatCents(g.cents) }));
}
