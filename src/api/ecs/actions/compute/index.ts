import type { Action } from '../../action.ts';

/** Instances, disks and snapshots. */
export const computeActions: Action<any>[] = [];
