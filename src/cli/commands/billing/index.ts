import type { Command } from '../../command.ts';
import { billingBill, billingRevenue } from './billing.ts';
import { marketplaceList, marketplacePublish, marketplaceSubscribe } from './marketplace.ts';

export const billingCommands: Command[] = [billingBill, billingRevenue, marketplaceList, marketplaceSubscribe, marketplacePublish];
