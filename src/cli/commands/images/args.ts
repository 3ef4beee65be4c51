/** Argument checks of the image commands. */
import { UsageError } from '../../errors.ts';
import { str as flag, type Flags } from '../../flags.ts';

export { int, oneId, str as flag } from '../../flags.ts';

/** `--account 1,2 --account 3` arrives as one value; accept comma-separated lists. */
export function accounts(flags: Flags): string[] {
  const v = flag(flags, 'account');
  if (!v) throw new UsageError('--account ACCOUNT_ID[,ACCOUNT_ID...] is required');
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}
