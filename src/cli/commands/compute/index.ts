import type { Command } from '../../command.ts';

export const computeCommands: Command[] = [];
