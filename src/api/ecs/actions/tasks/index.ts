import type { Action } from '../../action.ts';

/** Buckets-backed transfers (ImportImage, ExportImage) and the task actions. */
export const transferActions: Action<any>[] = [];
