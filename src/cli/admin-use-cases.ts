/**
 * The use cases the administrative commands run on the store. They import kysely, so commands reach them only
 * through admin.ts's `adminUseCases()`, when such a command runs.
 */
export { AccountError, createAccount, listAccounts } from '../services/accounts.ts';
export { PasswordError, setAdmin, setPassword } from '../services/identity/tokens.ts';
export { currentBill, currentRevenue } from '../services/billing/bill.ts';
export { MarketplaceError, PRICE_MODELS, publishProduct, publishVersion } from '../services/marketplace/products.ts';
