/** Row types of the billing and Marketplace tables (migration 0004), and a typed view of the store that includes them. */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.ts';

export type PriceModel = 'free' | 'hourly' | 'monthly' | 'byol';

export interface ProductRow {
  code: string;
  isv_id: string;
  name: string;
  description: string;
  price_model: PriceModel;
  /** JSON `[[maxVcpu, microPerHour], ...]`, ascending; the first tier with maxVcpu ≥ the instance's vCPUs applies. */
  hourly_tiers: string;
  monthly_micro: number;
  one_time_micro: number;
  /** Comma-separated region IDs where versions may run and be copied to; empty = every region. */
  regions: string;
  created_at: number;
}

export interface SubscriptionRow {
  id: string;
  account_id: string;
  product_code: string;
  /** Months bought (monthly products); 0 otherwise. */
  months: number;
  /** What the subscription costs up front (monthly × months, or the one-time BYOL price). */
  amount_micro: number;
  created_at: number;
  /** 0 = never expires. */
  expires_at: number;
}

export interface SeatRow {
  disk_id: string;
  instance_id: string;
  account_id: string;
  region: string;
  image_id: string;
  license_class: string;
  product_code: string;
  vcpu: number;
  started_at: number;
  ended_at: number | null;
}

export interface SnapshotHistoryRow {
  snapshot_id: string;
  account_id: string;
  region: string;
  unique_bytes: number;
  created_at: number;
  deleted_at: number;
}

export type UsageKind = 'license' | 'marketplace_hourly' | 'marketplace_subscription' | 'marketplace_one_time' | 'snapshot_storage';

export interface UsageRow {
  account_id: string;
  resource_id: string;
  kind: UsageKind;
  /** Start of the hour, epoch ms. */
  hour: number;
  region: string;
  /** Hours (1) for hourly kinds, byte-hours for snapshot storage, 1 for one-off fees. */
  quantity: number;
  unit_price_micro: number;
  amount_micro: number;
  product_code: string;
  /** The ISV the amount is paid to; empty = the platform. */
  payee_id: string;
  /** What the line is for (licence class and vCPUs, the image a snapshot backs, the instance of a seat). */
  detail: string;
  recorded_at: number;
}

export type BillingTables = {
  mp_products: ProductRow;
  mp_subscriptions: SubscriptionRow;
  billing_seats: SeatRow;
  billing_snapshot_history: SnapshotHistoryRow;
  usage_records: UsageRow;
};

export type BillingDb = Kysely<Database & BillingTables>;

export function billingDb(db: Kysely<Database>): BillingDb {
  return db.withTables<BillingTables>();
}

