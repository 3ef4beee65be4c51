/** The one way tests wait for a state: poll until `check` returns something truthy (a hang guard, not a timing assertion). */
export interface WaitOptions {
  /** Named in the error when the guard gives up. */
  what?: string;
  timeoutMs?: number;
  intervalMs?: number;
}

export async function waitFor<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, opts: WaitOptions = {}): Promise<T> {
  const { what = 'condition', timeoutMs = 60_000, intervalMs = 20 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
