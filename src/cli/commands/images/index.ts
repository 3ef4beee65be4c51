import type { Command } from '../../command.ts';

export const imagesCommands: Command[] = [];
