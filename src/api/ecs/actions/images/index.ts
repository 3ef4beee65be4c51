import type { Action } from '../../action.ts';
import DescribeImages from './DescribeImages.ts';
import DescribeImageFromFamily from './DescribeImageFromFamily.ts';
import ModifyImageAttribute from './ModifyImageAttribute.ts';

/** Image catalogue and lifecycle actions. */
export const imageActions: Action<any>[] = [DescribeImages, DescribeImageFromFamily, ModifyImageAttribute];
