/**
 * AccessKeys by ID, kept in memory so that a signed request does not read its key from the store each time (on
 * PostgreSQL that read was one of the three round trips of a DescribeImages by ID). A key changed or deleted on any
 * node stops working here as soon as the store reports the change (store/change-epoch.ts): an entry is used only
 * under the epoch it was read in, and never for longer than TTL_MS, in case a change went unseen. Unknown IDs are not
 * kept, so a key created on another node works at once.
 */
import type { Clock } from '../domain/clock.ts';
import type { ChangeEpoch } from '../store/change-epoch.ts';

export interface AccessKey {
  accountId: string;
  secret: string;
}

export const ACCESS_KEY_TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

export class AccessKeyCache {
  private readonly entries = new Map<string, { key: AccessKey; epoch: number; until: number }>();

  constructor(private readonly changes: ChangeEpoch, private readonly clock: Clock) {}

  async get(id: string, read: () => Promise<AccessKey | undefined>): Promise<AccessKey | undefined> {
    const epoch = this.changes.epoch();
    const now = this.clock.now();
    const hit = this.entries.get(id);
    if (hit && epoch !== undefined && hit.epoch === epoch && now < hit.until) return hit.key;
    const key = await read();
    // A change that committed while the row was being read moves the epoch: what was read may be the old row.
    if (key && epoch !== undefined && this.changes.epoch() === epoch) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(id, { key, epoch, until: now + ACCESS_KEY_TTL_MS });
    }
    return key;
  }
}
