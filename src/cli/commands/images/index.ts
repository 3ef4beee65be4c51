import type { Command } from '../../command.ts';
import { convertCommand, inspectCommand } from './local.ts';
import { imageDelete, imageDeprecate, imageList, imageModify, imageShow, imageUndeprecate, regionList } from './remote.ts';
import { imageCancelCopy, imageCopy, imageCreate, imageShare, imageShares, imageUnshare } from './lifecycle.ts';

export const imagesCommands: Command[] = [
  imageList, imageShow, imageCreate, imageCopy, imageCancelCopy, imageShare, imageUnshare, imageShares,
  imageModify, imageDeprecate, imageUndeprecate, imageDelete, regionList,
  inspectCommand, convertCommand,
];
