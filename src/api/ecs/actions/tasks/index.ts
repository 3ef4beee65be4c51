import type { Action } from '../../action.ts';
import ImportImage from './ImportImage.ts';
import ExportImage from './ExportImage.ts';
import DescribeTasks from './DescribeTasks.ts';
import DescribeTaskAttribute from './DescribeTaskAttribute.ts';
import CancelTask from './CancelTask.ts';

/** Buckets-backed transfers (ImportImage, ExportImage) and the task actions. */
export const transferActions: Action<any>[] = [ImportImage, ExportImage, DescribeTasks, DescribeTaskAttribute, CancelTask];
