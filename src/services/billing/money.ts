/** Money as integer micro-units (1 CNY = 1,000,000 µ); amounts become cents only when a bill line is shown. */

const GIB = 1024n ** 3n;

/** a × b / c rounded half-up, exactly (BigInt): byte-hours × price would overflow 2^53 as a float. */
export function mulDivRound(a: number, b: number, c: bigint): number {
  const n = BigInt(a) * BigInt(b);
  return Number((n * 2n + c) / (2n * c));
}

/** The storage price of `bytes` for one hour: price per GiB-month ÷ hours per month, pro rata. */
export function storageHourMicro(bytes: number, microPerGiBMonth: number, hoursPerMonth: number): number {
  return mulDivRound(bytes, microPerGiBMonth, GIB * BigInt(hoursPerMonth));
}

/** µ → cents, rounded half-up. */
export function centsOf(micro: number): number {
  return Math.floor((micro + 5_000) / 10_000);
}

/** 1234 cents → "12.34". */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const a = Math.abs(cents);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

/** 1234567 µ → "1.234567". */
export function formatMicro(micro: number): string {
  return `${Math.floor(micro / 1_000_000)}.${String(micro % 1_000_000).padStart(6, '0')}`;
}
