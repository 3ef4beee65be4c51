/** Every ECS action the gateway answers, by wire name. */
import type { Action } from './action.ts';
import DescribeRegions from './actions/DescribeRegions.ts';
import DescribeImages from './actions/DescribeImages.ts';
import DescribeImageFromFamily from './actions/DescribeImageFromFamily.ts';
import ModifyImageAttribute from './actions/ModifyImageAttribute.ts';

const actions: Action<any>[] = [DescribeRegions, DescribeImages, DescribeImageFromFamily, ModifyImageAttribute];

export const ACTIONS: ReadonlyMap<string, Action<any>> = new Map(actions.map((a) => [a.name, a]));
