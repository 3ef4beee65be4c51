import type { Command } from '../../command.ts';
import { instanceConsole, instanceDelete, instanceList, instanceRun, instanceStart, instanceStop } from './instance.ts';
import { diskList, diskRead, diskWrite } from './disk.ts';
import { snapshotCreate, snapshotDelete, snapshotList } from './snapshot.ts';

export const computeCommands: Command[] = [
  instanceRun, instanceList, instanceStart, instanceStop, instanceDelete, instanceConsole,
  diskList, diskRead, diskWrite,
  snapshotCreate, snapshotList, snapshotDelete,
];
