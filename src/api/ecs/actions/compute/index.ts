import type { Action } from '../../action.ts';
import RunInstances from './RunInstances.ts';
import CreateInstance from './CreateInstance.ts';
import DescribeInstances from './DescribeInstances.ts';
import StartInstance from './StartInstance.ts';
import StopInstance from './StopInstance.ts';
import DeleteInstance from './DeleteInstance.ts';
import DescribeDisks from './DescribeDisks.ts';
import CreateSnapshot from './CreateSnapshot.ts';
import DescribeSnapshots from './DescribeSnapshots.ts';
import DeleteSnapshot from './DeleteSnapshot.ts';
import ReplaceSystemDisk from './ReplaceSystemDisk.ts';
import ResetDisk from './ResetDisk.ts';
import ReInitDisk from './ReInitDisk.ts';
import GetInstanceConsoleOutput from './GetInstanceConsoleOutput.ts';
import CreateDisk from './CreateDisk.ts';
import DeleteDisk from './DeleteDisk.ts';
import AttachDisk from './AttachDisk.ts';
import DetachDisk from './DetachDisk.ts';

/** Instances, disks and snapshots. */
export const computeActions: Action<any>[] = [
  RunInstances, CreateInstance, DescribeInstances, StartInstance, StopInstance, DeleteInstance, DescribeDisks, CreateDisk, DeleteDisk, AttachDisk, DetachDisk,
  CreateSnapshot, DescribeSnapshots, DeleteSnapshot, ReplaceSystemDisk, ResetDisk, ReInitDisk, GetInstanceConsoleOutput,
];
