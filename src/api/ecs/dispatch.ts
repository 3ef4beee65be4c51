/** Every ECS action the gateway answers, by wire name. Each group keeps its own list. */
import type { Action } from './action.ts';
import DescribeRegions from './actions/DescribeRegions.ts';
import { imageActions } from './actions/images/index.ts';
import { computeActions } from './actions/compute/index.ts';
import { transferActions } from './actions/tasks/index.ts';
import { billingActions } from './actions/billing/index.ts';

const actions: Action<any>[] = [DescribeRegions, ...imageActions, ...computeActions, ...transferActions, ...billingActions];

export const ACTIONS: ReadonlyMap<string, Action<any>> = new Map(actions.map((a) => [a.name, a]));
if (ACTIONS.size !== actions.length) throw new Error('two ECS actions share a name');
