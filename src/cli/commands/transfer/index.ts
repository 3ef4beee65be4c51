import type { Command } from '../../command.ts';
import { bucketCreate, bucketGet, bucketList, bucketPut } from './bucket.ts';
import { imageExport, imageImport } from './image.ts';
import { taskCancel, taskList, taskShow } from './task.ts';

export const transferCommands: Command[] = [bucketCreate, bucketList, bucketPut, bucketGet, imageImport, imageExport, taskList, taskShow, taskCancel];
