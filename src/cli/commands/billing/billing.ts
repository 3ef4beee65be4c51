/** `imagehouse billing bill|revenue`: the caller's bill (API client), or any account's bill read from the store (--account, admin). */
import type { CliIo, Command } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { dataRequest } from '../../api.ts';
import { table } from '../../format.ts';
import { loadConfig } from '../../../config.ts';
import { adminUseCases, openAdmin } from '../../admin.ts';
import type { Bill, currentBill, currentRevenue } from '../../../services/billing/bill.ts';
import { formatMicro } from '../../../services/billing/money.ts';
import { ApiError } from '../../../domain/errors.ts';
import { withClient } from '../compute/client.ts';

type Flags = Record<string, string | true>;
type Revenue = Awaited<ReturnType<typeof currentRevenue>>;

function quantityText(kind: string, quantity: number, hours: number): string {
  if (kind === 'snapshot_storage') return `${formatMicro(Math.round((quantity / 1024 ** 3) * 1e6))} GiB-h`;
  if (kind === 'license' || kind === 'marketplace_hourly') return `${hours} h`;
  return kind === 'marketplace_subscription' ? `${quantity} mo` : '1';
}

function printBill(b: Bill, io: CliIo): void {
  io.out(`Bill of account ${b.accountId} for ${b.month} (${b.currency})\n`);
  io.out(table(['KIND', 'RESOURCE', 'REGION', 'PRODUCT', 'DETAIL', 'QUANTITY', 'AMOUNT'],
    [...b.lines.map((l) => [l.kind, l.resourceId, l.region, l.productCode, l.detail, quantityText(l.kind, l.quantity, l.hours), l.amount.padStart(10)]),
      ['TOTAL', '', '', '', '', '', b.total.padStart(10)]]));
}

function printRevenue(r: Revenue, io: CliIo): void {
  io.out(`Marketplace revenue of ISV ${r.isvId} for ${r.month} (${r.currency})\n`);
  io.out(table(['PRODUCT', 'CUSTOMERS', 'AMOUNT'], [...r.products.map((p) => [p.productCode, String(p.customers), p.amount.padStart(10)]), ['TOTAL', '', r.total.padStart(10)]]));
}

/** `--account A`: straight from the store (administrative, no credentials); otherwise the signed HTTP endpoint as the caller. */
type Direct<T> = (deps: Parameters<typeof currentBill>[0], account: string, month: string) => Promise<T>;

async function fetchReport<T>(name: string, path: string, flags: Flags, io: CliIo, direct: () => Promise<Direct<T>>, print: (t: T, io: CliIo) => void): Promise<number> {
  const show = (report: T) => {
    if (flags.json) io.out(JSON.stringify(report));
    else print(report, io);
    return EXIT.ok;
  };
  const month = flags.month;
  if (typeof month !== 'string') {
    io.err(`${name}: --month YYYY-MM is required`);
    return EXIT.usage;
  }
  if (typeof flags.account === 'string') {
    const report = await direct();
    const admin = await openAdmin(loadConfig(flags, io.env));
    try {
      return show(await report(admin, flags.account, month));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      io.err(`${name}: ${e.code}: ${e.message}`);
      return EXIT.usage;
    } finally {
      await admin.close();
    }
  }
  return withClient(name, flags, io, async (cfg) => {
    const res = await dataRequest(cfg, 'GET', path, { Month: month });
    const { RequestId: _r, ...body } = (await res.json()) as any;
    return show(body as T);
  });
}

export const billingBill: Command = {
  path: ['billing', 'bill'],
  summary: 'A monthly bill: licence, Marketplace and snapshot storage charges per resource, summed to the cent',
  usage: 'imagehouse billing bill --month YYYY-MM [--account ACCOUNT_ID (admin: read the store)] [--json]\n\nExample:\n  imagehouse billing bill --month 2026-11',
  run: ({ flags }, io) => fetchReport('billing bill', '/billing/bill', flags, io, async () => (await adminUseCases()).currentBill, printBill),
};

export const billingRevenue: Command = {
  path: ['billing', 'revenue'],
  summary: 'An ISV\'s Marketplace revenue per product for a month',
  usage: 'imagehouse billing revenue --month YYYY-MM [--account ISV_ACCOUNT_ID (admin)] [--json]\n\nExample:\n  imagehouse billing revenue --month 2026-11 --json',
  run: ({ flags }, io) => fetchReport('billing revenue', '/billing/revenue', flags, io, async () => (await adminUseCases()).currentRevenue, printRevenue),
};
