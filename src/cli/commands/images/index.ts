import type { Command } from '../../command.ts';
import { convertCommand, inspectCommand } from './local.ts';

export const imagesCommands: Command[] = [inspectCommand, convertCommand];
