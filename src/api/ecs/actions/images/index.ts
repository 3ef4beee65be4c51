import type { Action } from '../../action.ts';
import DescribeImages from './DescribeImages.ts';
import DescribeImageFromFamily from './DescribeImageFromFamily.ts';
import ModifyImageAttribute from './ModifyImageAttribute.ts';
import ModifyImageSharePermission from './ModifyImageSharePermission.ts';
import DescribeImageSharePermission from './DescribeImageSharePermission.ts';
import DeleteImage from './DeleteImage.ts';
import DescribeImageSupportInstanceTypes from './DescribeImageSupportInstanceTypes.ts';
import CreateImage from './CreateImage.ts';
import CopyImage from './CopyImage.ts';
import CancelCopyImage from './CancelCopyImage.ts';

/** Image catalogue and lifecycle actions. */
export const imageActions: Action<any>[] = [
  DescribeImages, DescribeImageFromFamily, ModifyImageAttribute, ModifyImageSharePermission, DescribeImageSharePermission,
  DeleteImage, DescribeImageSupportInstanceTypes, CreateImage, CopyImage, CancelCopyImage,
];
