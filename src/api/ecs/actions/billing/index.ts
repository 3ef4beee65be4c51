import type { Action } from '../../action.ts';
import DescribePrice from './DescribePrice.ts';
import DescribeMarketplaceProducts from './DescribeMarketplaceProducts.ts';
import SubscribeMarketplaceProduct from './SubscribeMarketplaceProduct.ts';

/** Prices and the Marketplace (the last two are this service's own actions; Alibaba has no public equivalent). */
export const billingActions: Action<any>[] = [DescribePrice, DescribeMarketplaceProducts, SubscribeMarketplaceProduct];
